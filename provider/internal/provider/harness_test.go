package provider

// The acceptance tests' real parts: a private redis-server and a real
// `calcgrid api` (built from this checkout) with CALCGRID_AUTH=required, on
// free ports of 127.0.0.1, and the provider served in-process. Nothing is
// fetched: Terraform runs the binary the bootstrap chose
// (TF_ACC_TERRAFORM_PATH, set by `make test-provider`) against the
// in-process provider.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
)

// protoV6Factories serves the provider in-process: Terraform reattaches to
// it, so no registry and no mirror are involved.
var protoV6Factories = map[string]func() (tfprotov6.ProviderServer, error){
	"calcgrid": providerserver.NewProtocol6WithError(New("test")()),
}

// repoRoot is the checkout this module lives in (provider/ is one level down).
func repoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for d := dir; ; d = filepath.Dir(d) {
		if fi, err := os.Stat(filepath.Join(d, "app", "cmd", "calcgrid")); err == nil && fi.IsDir() {
			return d
		}
		if filepath.Dir(d) == d {
			t.Fatalf("no calcgrid checkout (app/cmd/calcgrid) above %s", dir)
		}
	}
}

// providerDir is this module's root (examples/ and docs/ live there).
func providerDir(t testing.TB) string { return filepath.Join(repoRoot(t), "provider") }

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// TestMain removes the calcgrid binary the tests built.
func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		_ = os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

// calcgridBinary builds ./app/cmd/calcgrid once per test binary.
func calcgridBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "calcgrid-provider-acc-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "calcgrid")
		cmd := exec.Command("go", "build", "-o", binPath, "./app/cmd/calcgrid")
		cmd.Dir = repoRoot(t)
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./app/cmd/calcgrid: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// stack is one test's API: its endpoint and bootstrap admin token.
type stack struct {
	t          testing.TB
	Endpoint   string
	AdminToken string
}

// startStack runs redis-server and `calcgrid api` for t and points the
// provider at them through CALCGRID_ENDPOINT and CALCGRID_TOKEN.
func startStack(t *testing.T) *stack {
	t.Helper()
	if os.Getenv("TF_ACC") == "" {
		t.Skip("acceptance test: set TF_ACC=1 (make test-provider does)")
	}
	if os.Getenv("TF_ACC_TERRAFORM_PATH") == "" {
		t.Fatal("TF_ACC_TERRAFORM_PATH is not set: run `make test-provider`, which passes the terraform/tofu binary the bootstrap chose " +
			"(.bin/calcgrid-stack tf-binary prints it)")
	}
	bin := calcgridBinary(t)
	dir := t.TempDir()

	redisBin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("redis-server not found on PATH (install the Debian package redis-server): %v", err)
	}
	redisAddr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	_, port, _ := net.SplitHostPort(redisAddr)
	redis := exec.Command(redisBin, "--port", port, "--bind", "127.0.0.1", "--dir", dir, "--save", "", "--appendonly", "no",
		"--logfile", filepath.Join(dir, "redis.log"))
	start(t, redis, "redis-server")
	waitFor(t, "redis-server", func() error {
		c, err := net.DialTimeout("tcp", redisAddr, 200*time.Millisecond)
		if err != nil {
			return err
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(time.Second))
		if _, err := c.Write([]byte("PING\r\n")); err != nil {
			return err
		}
		buf := make([]byte, 7)
		if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "+PONG\r\n" {
			return fmt.Errorf("PING: %q %v", buf, err)
		}
		return nil
	})

	raw := make([]byte, 32)
	_, _ = rand.Read(raw)
	s := &stack{t: t, AdminToken: "bootstrap-" + base64.RawURLEncoding.EncodeToString(raw)}
	tokenFile := filepath.Join(dir, "admin-token")
	if err := os.WriteFile(tokenFile, []byte(s.AdminToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	listen := "127.0.0.1:" + strconv.Itoa(freePort(t))
	s.Endpoint = "http://" + listen
	api := exec.Command(bin, "api")
	api.Env = append(os.Environ(),
		"CALCGRID_LISTEN="+listen,
		"CALCGRID_REDIS_ADDR="+redisAddr,
		"CALCGRID_AUTH=required",
		"CALCGRID_ADMIN_TOKEN_FILE="+tokenFile,
		"CALCGRID_INSTANCE=provider-acc",
	)
	logFile, err := os.Create(filepath.Join(dir, "api.log"))
	if err != nil {
		t.Fatal(err)
	}
	api.Stdout, api.Stderr = logFile, logFile
	start(t, api, "calcgrid api")
	t.Cleanup(func() {
		if t.Failed() {
			data, _ := os.ReadFile(logFile.Name())
			t.Logf("calcgrid api log:\n%s", tail(string(data), 40))
		}
	})
	waitFor(t, "calcgrid api", func() error {
		resp, err := http.Get(s.Endpoint + "/readyz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("/readyz: %s", resp.Status)
		}
		return nil
	})
	t.Setenv(EnvEndpoint, s.Endpoint)
	t.Setenv(EnvToken, s.AdminToken)
	// A TF_CLI_CONFIG_FILE that points nowhere only makes terraform warn.
	if c := os.Getenv("TF_CLI_CONFIG_FILE"); c != "" {
		if _, err := os.Stat(c); err != nil {
			t.Setenv("TF_CLI_CONFIG_FILE", "")
			os.Unsetenv("TF_CLI_CONFIG_FILE")
		}
	}
	// The configurations name the provider by its real address.
	t.Setenv("TF_ACC_PROVIDER_HOST", "registry.calcgrid.local")
	t.Setenv("TF_ACC_PROVIDER_NAMESPACE", "calcgrid")
	return s
}

// start runs cmd until the end of the test.
func start(t testing.TB, cmd *exec.Cmd, name string) {
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
}

func waitFor(t testing.TB, what string, ready func() error) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := ready()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready after 20s: %v", what, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// call sends one request to the API with token, outside Terraform (the
// out-of-band changes and the checks of what Terraform did), and returns
// the status and decoded body.
func (s *stack) call(method, path, token string, body any) (int, map[string]any) {
	s.t.Helper()
	var in io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			s.t.Fatal(err)
		}
		in = bytes.NewReader(data)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, s.Endpoint+path, in)
	if err != nil {
		s.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var out map[string]any
	data, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(data, &out)
	return resp.StatusCode, out
}

// example reads a file of examples/, the same one the docs show.
func example(t testing.TB, rel string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(providerDir(t), "examples", rel))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// withProvider prefixes a configuration with examples/provider/provider.tf.
func withProvider(t testing.TB, cfg ...string) string {
	return example(t, "provider/provider.tf") + "\n" + strings.Join(cfg, "\n")
}
