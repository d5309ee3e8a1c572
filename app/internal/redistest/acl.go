package redistest

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

// ACLFile is where the stack's Redis users are written, relative to the
// repository root: modules/redis renders the same file into redis.conf, so
// a test run here holds the rules the stack runs.
const ACLFile = "modules/redis/acl.txt"

// Users lists the users of ACLFile a test can log in as: admin, api, worker,
// monitor and monitor-readonly (the stack names the latter monitor when the
// environment's monitor.readonly is true).
func Users(t testing.TB) []string {
	t.Helper()
	var users []string
	for name := range readACL(t) {
		if name != "deny" {
			users = append(users, name)
		}
	}
	return users
}

// StartACL runs a redis-server as Start does, with the stack's users
// (ACLFile) and the default user as admin under another name, as
// modules/redis renders them: a client must log in with s.Login(user).
// Client and the readiness probe log in as admin.
func StartACL(t testing.TB, extra ...string) *Server {
	t.Helper()
	acl := readACL(t)
	admin := sha256.Sum256([]byte(Password("admin")))
	args := append([]string{"--user", "default", "on", "#" + hex.EncodeToString(admin[:])}, acl["admin"]...)
	for name, rules := range acl {
		if name == "deny" {
			continue
		}
		if name != "admin" && slices.ContainsFunc(rules, func(r string) bool { return strings.HasPrefix(r, "+@") }) {
			rules = append(append([]string{}, rules...), acl["deny"]...)
		}
		// The hash form is what modules/redis renders, so it is what is tested.
		sum := sha256.Sum256([]byte(Password(name)))
		args = append(args, append([]string{"--user", name, "on", "#" + hex.EncodeToString(sum[:])}, rules...)...)
	}
	return start(t, "admin", append(args, extra...))
}

// Password is the password of user on a StartACL server.
func Password(user string) string { return "test-password-of-" + user }

// Login returns go-redis options that log in as user, for a StartACL server.
func (s *Server) Login(user string) *redis.Options {
	return &redis.Options{Addr: s.Addr, Username: user, Password: Password(user)}
}

// readACL parses ACLFile: "<name> <rules>" lines, # comments.
func readACL(t testing.TB) map[string][]string {
	t.Helper()
	_, here, _, _ := runtime.Caller(0)
	path := filepath.Join(filepath.Dir(here), "..", "..", "..", filepath.FromSlash(ACLFile))
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read the stack's Redis users: %v", err)
	}
	acl := map[string][]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 2 {
			t.Fatalf("%s: %q is not \"<name> <rules>\"", ACLFile, line)
		}
		acl[f[0]] = f[1:]
	}
	if _, ok := acl["deny"]; !ok {
		t.Fatalf("%s has no deny line", ACLFile)
	}
	return acl
}
