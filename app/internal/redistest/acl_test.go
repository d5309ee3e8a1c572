package redistest_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/calcgrid/calcgrid/app/internal/redistest"
)

// appUsers are the users the app roles log in as (the monitor as one or the
// other, by monitor.readonly).
var appUsers = []string{"api", "worker", "monitor", "monitor-readonly"}

// TestAppUsersCannotAdminister: commands that wipe, reconfigure, stop or
// spy on Redis, or change its users, answer NOPERM to every app user.
func TestAppUsersCannotAdminister(t *testing.T) {
	// Redis 7 refuses DEBUG before the ACL unless enabled: enabled here so
	// that the ACL is what is tested.
	srv := redistest.StartACL(t, "--enable-debug-command", "yes")
	if err := srv.Client().Set(t.Context(), "calcgrid:probe", "kept", 0).Err(); err != nil {
		t.Fatal(err)
	}
	denied := [][]any{
		{"FLUSHALL"}, {"FLUSHDB"},
		{"CONFIG", "GET", "maxmemory"}, {"CONFIG", "SET", "maxmemory", "1"}, {"CONFIG", "RESETSTAT"}, {"CONFIG", "REWRITE"},
		{"DEBUG", "SLEEP", "0"}, {"SHUTDOWN", "NOSAVE"}, {"KEYS", "*"}, {"MONITOR"},
		{"ACL", "WHOAMI"}, {"ACL", "LIST"}, {"ACL", "SETUSER", "api", "+@all"}, {"ACL", "DELUSER", "admin"},
	}
	for _, user := range appUsers {
		for _, cmd := range denied {
			t.Run(user+"/"+cmd[0].(string)+" "+strings.Join(strs(cmd[1:]), " "), func(t *testing.T) {
				c := redis.NewClient(srv.Login(user))
				defer c.Close()
				err := c.Do(t.Context(), cmd...).Err()
				if err == nil || !strings.HasPrefix(err.Error(), "NOPERM") {
					t.Errorf("%v as %s: %v, want NOPERM", cmd, user, err)
				}
			})
		}
	}
	if got, err := srv.Client().Get(t.Context(), "calcgrid:probe").Result(); err != nil || got != "kept" {
		t.Errorf("after the app users' attempts: calcgrid:probe = %q, %v", got, err)
	}
}

// TestAppUsersGetNoOtherDangerousCommand: of Redis's @dangerous commands
// an app user may run only the ones acl.txt grants it, each for a reason
// written there; a dangerous command granted by mistake (or a rule that
// loses its -@dangerous) turns this red.
func TestAppUsersGetNoOtherDangerousCommand(t *testing.T) {
	srv := redistest.StartACL(t)
	admin := srv.Client()
	dangerous, err := admin.Do(t.Context(), "ACL", "CAT", "dangerous").StringSlice()
	if err != nil {
		t.Fatal(err)
	}
	granted := map[string][]string{
		"api":              {"info"}, // storage admission: INFO memory
		"worker":           nil,
		"monitor":          {"info"}, // asynqmon's Redis info page
		"monitor-readonly": {"info"},
	}
	for _, user := range appUsers {
		var allowed []string
		for _, cmd := range dangerous {
			if dryRun(t, admin, user, strings.Split(cmd, "|")) {
				allowed = append(allowed, cmd)
			}
		}
		slices.Sort(allowed)
		if !slices.Equal(allowed, granted[user]) {
			t.Errorf("%s may run the @dangerous %v, want only %v", user, allowed, granted[user])
		}
	}
}

// dryRun asks Redis whether user may run cmd (ACL DRYRUN), with as many
// placeholder arguments as the command's arity requires.
func dryRun(t *testing.T, admin *redis.Client, user string, cmd []string) bool {
	t.Helper()
	for extra := range 8 {
		args := []any{"ACL", "DRYRUN", user}
		for _, w := range cmd {
			args = append(args, w)
		}
		for range extra {
			args = append(args, "x")
		}
		reply, err := admin.Do(t.Context(), args...).Text()
		if err != nil && strings.Contains(err.Error(), "wrong number of arguments") {
			continue
		}
		if err != nil {
			t.Fatalf("ACL DRYRUN %s %v: %v", user, cmd, err)
		}
		return reply == "OK"
	}
	t.Fatalf("ACL DRYRUN %s %v: no arity fits", user, cmd)
	return false
}

// TestAdminAdministers: the admin user (health checks, redis-cli, the stack
// suite's CONFIG SET) keeps every command, so the denials above are the
// app users' own.
func TestAdminAdministers(t *testing.T) {
	srv := redistest.StartACL(t)
	c := srv.Client()
	for _, cmd := range [][]any{{"CONFIG", "GET", "maxmemory"}, {"CONFIG", "SET", "appendfsync", "always"}, {"KEYS", "*"}, {"ACL", "WHOAMI"}, {"INFO", "memory"}, {"FLUSHDB"}} {
		if err := c.Do(t.Context(), cmd...).Err(); err != nil {
			t.Errorf("%v as admin: %v", cmd, err)
		}
	}
}

// TestNoClientWithoutItsPassword: the default user is admin under another
// name, so a client that does not log in, or logs in as default without
// admin's password, gets nothing; nor does a user with another user's
// password.
func TestNoClientWithoutItsPassword(t *testing.T) {
	srv := redistest.StartACL(t)
	for name, opt := range map[string]*redis.Options{
		"no login":                {Addr: srv.Addr},
		"default, no password":    {Addr: srv.Addr, Username: "default"},
		"default, api's password": {Addr: srv.Addr, Password: redistest.Password("api")},
		"api with admin password": {Addr: srv.Addr, Username: "api", Password: redistest.Password("admin")},
	} {
		c := redis.NewClient(opt)
		err := c.Ping(t.Context()).Err()
		c.Close()
		if err == nil || !(strings.HasPrefix(err.Error(), "NOAUTH") || strings.HasPrefix(err.Error(), "WRONGPASS")) {
			t.Errorf("%s: PING answered %v, want NOAUTH or WRONGPASS", name, err)
		}
	}
	if users := redistest.Users(t); !slices.Contains(users, "admin") || slices.Contains(users, "default") {
		t.Errorf("users of %s: %v", redistest.ACLFile, users)
	}
}

// TestAOFReplaysTransactions: a transaction an app user ran is in the
// append-only file and comes back when Redis restarts. Redis 7.0 replays
// it as the default user: switched off, default made Redis refuse every
// MULTI/EXEC of the file (NOPERM) and start without them.
func TestAOFReplaysTransactions(t *testing.T) {
	srv := redistest.StartACL(t, "--appendonly", "yes", "--appendfsync", "always")
	c := redis.NewClient(srv.Login("worker"))
	defer c.Close()
	if _, err := c.TxPipelined(t.Context(), func(p redis.Pipeliner) error {
		p.Set(t.Context(), "a", "1", 0)
		p.Set(t.Context(), "b", "2", 0)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	srv.Restart()
	if n, err := srv.Client().DBSize(t.Context()).Result(); err != nil || n != 2 {
		t.Errorf("keys after the restart: %d (%v), want the transaction's 2", n, err)
	}
}

func strs(args []any) []string {
	var s []string
	for _, a := range args {
		s = append(s, a.(string))
	}
	return s
}
