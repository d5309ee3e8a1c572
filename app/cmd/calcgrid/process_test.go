package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/calcgrid/calcgrid/app/internal/apptest"
	"github.com/calcgrid/calcgrid/app/internal/redistest"
	"github.com/calcgrid/calcgrid/app/internal/taskstore"
)

var build struct {
	once sync.Once
	dir  string
	path string
	err  error
}

// binary builds calcgrid once per test run, so that workers can be real
// processes that receive real signals.
func binary(t *testing.T) string {
	t.Helper()
	build.once.Do(func() {
		build.dir, build.err = os.MkdirTemp("", "calcgrid-test-")
		if build.err != nil {
			return
		}
		build.path = filepath.Join(build.dir, "calcgrid")
		out, err := exec.Command("go", "build", "-o", build.path, ".").CombinedOutput()
		if err != nil {
			build.err = &buildError{err, out}
		}
	})
	if build.err != nil {
		t.Fatalf("build calcgrid: %v", build.err)
	}
	return build.path
}

type buildError struct {
	err error
	out []byte
}

func (e *buildError) Error() string { return e.err.Error() + "\n" + string(e.out) }

func TestMain(m *testing.M) {
	code := m.Run()
	if build.dir != "" {
		os.RemoveAll(build.dir)
	}
	os.Exit(code)
}

// proc is a calcgrid worker process.
type proc struct {
	cmd  *exec.Cmd
	log  string
	done chan error
}

// login is the environment that logs a role's process in as user of a
// redistest.StartACL server, as modules/container sets it in the stack.
func login(user string) []string {
	return []string{"CALCGRID_REDIS_USERNAME=" + user, "CALCGRID_REDIS_PASSWORD=" + redistest.Password(user)}
}

func startWorker(t *testing.T, redisAddr, name string, env ...string) *proc {
	t.Helper()
	cmd := exec.Command(binary(t), "worker")
	cmd.Env = append(os.Environ(),
		"CALCGRID_REDIS_ADDR="+redisAddr, "CALCGRID_DIAGNOSTICS=1", "CALCGRID_LISTEN=127.0.0.1:0",
		"CALCGRID_INSTANCE="+name, "CALCGRID_WORKER_CONCURRENCY=1")
	cmd.Env = append(cmd.Env, login("worker")...)
	cmd.Env = append(cmd.Env, env...)
	return startProc(t, name, cmd)
}

// startProc starts cmd with its output in a log file named after name; the
// process dies with the test (and its log is shown when the test failed).
func startProc(t *testing.T, name string, cmd *exec.Cmd) *proc {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, log: logPath, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait(); logFile.Close() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("%s log:\n%s", name, b)
		}
	})
	return p
}

func (p *proc) signal(t *testing.T, sig os.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
}

// wait returns the process's exit error, failing after timeout.
func (p *proc) wait(t *testing.T, timeout time.Duration) error {
	t.Helper()
	select {
	case err := <-p.done:
		p.done <- err
		return err
	case <-time.After(timeout):
		t.Fatalf("worker still running after %s", timeout)
		return nil
	}
}

func submitSleep(t *testing.T, s *taskstore.Store, key string, ms int) string {
	t.Helper()
	payload, _ := json.Marshal(map[string]int{"ms": ms})
	task, _, err := s.Submit(context.Background(), taskstore.Submission{
		Type: "diagnostic.sleep", Payload: payload, Queue: "medium",
		MaxRetry: 3, Timeout: time.Minute, Key: key, RequestID: key,
	}, 100)
	if err != nil {
		t.Fatal(err)
	}
	return task.ID
}

func await(t *testing.T, s *taskstore.Store, id string, timeout time.Duration, want taskstore.State) taskstore.Task {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		task, err := s.Get(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if task.State == want && (want != taskstore.StateActive || task.StartedAt != nil) {
			return task
		}
		if time.Now().After(deadline) {
			t.Fatalf("task %s is %s after %s, want %s", id, task.State, timeout, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestWorkerSIGTERM(t *testing.T) {
	srv := redistest.StartACL(t)
	store := apptest.NewStore(t, srv, "api")

	t.Run("running task finishes", func(t *testing.T) {
		w := startWorker(t, srv.Addr, "graceful", "CALCGRID_SHUTDOWN_TIMEOUT=10s")
		id := submitSleep(t, store, "graceful", 1500)
		await(t, store, id, 10*time.Second, taskstore.StateActive)
		w.signal(t, syscall.SIGTERM)
		if err := w.wait(t, 10*time.Second); err != nil {
			t.Errorf("worker exit: %v", err)
		}
		if task := await(t, store, id, time.Second, taskstore.StateCompleted); task.Attempts != 1 {
			t.Errorf("task = %+v, want completed in one attempt", task)
		}
	})

	t.Run("task over the grace period is requeued", func(t *testing.T) {
		w := startWorker(t, srv.Addr, "impatient", "CALCGRID_SHUTDOWN_TIMEOUT=1s")
		id := submitSleep(t, store, "requeued", 4000)
		await(t, store, id, 10*time.Second, taskstore.StateActive)
		start := time.Now()
		w.signal(t, syscall.SIGTERM)
		if err := w.wait(t, 5*time.Second); err != nil {
			t.Errorf("worker exit: %v", err)
		}
		t.Logf("worker exited %s after SIGTERM", time.Since(start).Round(time.Millisecond))
		await(t, store, id, time.Second, taskstore.StatePending)
		startWorker(t, srv.Addr, "successor")
		await(t, store, id, 15*time.Second, taskstore.StateCompleted)
	})
}

// TestWorkerSIGKILL kills a worker mid-task: another worker finds the
// task's lease unextended (taskstore.Recover) and runs it again within
// 15 s of the kill (asynq alone: 60 to 120 s).
//
//	go test -run TestWorkerSIGKILL -v ./app/cmd/calcgrid
func TestWorkerSIGKILL(t *testing.T) {
	srv := redistest.StartACL(t)
	store := apptest.NewStore(t, srv, "api")
	victim := startWorker(t, srv.Addr, "victim")
	id := submitSleep(t, store, "killed", 2000)
	await(t, store, id, 10*time.Second, taskstore.StateActive)
	killed := time.Now()
	victim.signal(t, syscall.SIGKILL)
	_ = victim.wait(t, 5*time.Second)
	startWorker(t, srv.Addr, "survivor")

	restarted := awaitAttempt(t, store, id, 2, 15*time.Second)
	task := await(t, store, id, 10*time.Second, taskstore.StateCompleted)
	if task.Attempts != 2 {
		t.Errorf("task = %+v, want completed on the second attempt", task)
	}
	t.Logf("SIGKILL recovery: task restarted %s and completed %s after the worker was killed",
		restarted.Sub(killed).Round(100*time.Millisecond), time.Since(killed).Round(100*time.Millisecond))
}

// awaitAttempt waits until attempt n of task id has started and returns when
// it saw it, failing after timeout.
func awaitAttempt(t *testing.T, s *taskstore.Store, id string, n int, timeout time.Duration) time.Time {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		task, err := s.Get(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if task.Attempts >= n {
			return time.Now()
		}
		if time.Now().After(deadline) {
			t.Fatalf("task %s: attempt %d not started within %s (%s, %d attempts)", id, n, timeout, task.State, task.Attempts)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestRedisOutageRecoversNothing stops Redis for longer than
// taskstore.StaleLease while a worker runs a task: every lease goes stale,
// as no heartbeat reaches Redis, but no worker is dead, so once Redis is back
// nothing is recovered: the task completes on its first attempt and both
// workers keep running.
//
//	go test -run TestRedisOutageRecoversNothing -v ./app/cmd/calcgrid
func TestRedisOutageRecoversNothing(t *testing.T) {
	srv := redistest.StartACL(t, "--appendonly", "yes", "--appendfsync", "always")
	store := apptest.NewStore(t, srv, "api")
	var workers []*proc
	for _, name := range []string{"busy", "idle"} {
		workers = append(workers, startWorker(t, srv.Addr, name))
	}
	id := submitSleep(t, store, "outage", 20000)
	await(t, store, id, 10*time.Second, taskstore.StateActive)
	srv.Stop()
	time.Sleep(taskstore.StaleLease + 3*time.Second)
	srv.Restart()
	task := await(t, store, id, 30*time.Second, taskstore.StateCompleted)
	if task.Attempts != 1 {
		t.Errorf("task = %+v, want completed on its first attempt: a Redis outage is no worker's death", task)
	}
	for _, w := range workers {
		select {
		case err := <-w.done:
			w.done <- err
			t.Errorf("worker %s exited after the outage: %v", w.log, err)
		default:
		}
	}
}

// TestWorkerPartition cuts a worker off from Redis mid-task and heals the
// cut once another worker runs the task again: the task completes once,
// on its second attempt, and the cut-off worker, finding its attempt
// superseded, records nothing and exits (its container restarts it).
//
//	go test -run TestWorkerPartition -v ./app/cmd/calcgrid
func TestWorkerPartition(t *testing.T) {
	srv := redistest.StartACL(t)
	store := apptest.NewStore(t, srv, "api")
	link := redistest.NewLink(t, srv.Addr)
	victim := startWorker(t, link.Addr(), "cut-off")
	id := submitSleep(t, store, "partitioned", 3000)
	await(t, store, id, 10*time.Second, taskstore.StateActive)
	cut := time.Now()
	link.Cut()
	startWorker(t, srv.Addr, "survivor")

	restarted := awaitAttempt(t, store, id, 2, 15*time.Second)
	// The cut-off worker's own attempt ends meanwhile, unrecorded.
	time.Sleep(time.Until(cut.Add(4 * time.Second)))
	link.Heal()
	healed := time.Now()
	task := await(t, store, id, 10*time.Second, taskstore.StateCompleted)
	if task.Attempts != 2 || task.Result == nil {
		t.Errorf("task = %+v, want completed with a result on the second attempt", task)
	}
	if err := victim.wait(t, 10*time.Second); err == nil {
		t.Error("the cut-off worker exited 0 after its attempt was superseded, want a failure exit (its container restarts it)")
	}
	if b, _ := os.ReadFile(victim.log); !bytes.Contains(b, []byte("presumed dead")) {
		t.Errorf("the cut-off worker did not log why it stopped:\n%s", b)
	}
	// Nothing the cut-off worker held reached Redis after the heal.
	time.Sleep(time.Second)
	if again, err := store.Get(context.Background(), id); err != nil || again.State != taskstore.StateCompleted ||
		again.Attempts != 2 || !again.CompletedAt.Equal(*task.CompletedAt) || string(again.Result) != string(task.Result) {
		t.Errorf("task after the heal = %+v (%v), want unchanged %+v", again, err, task)
	}
	t.Logf("partition: task restarted %s after the cut, completed %s after it; the cut-off worker exited %s after the heal",
		restarted.Sub(cut).Round(100*time.Millisecond), task.CompletedAt.Sub(cut).Round(100*time.Millisecond),
		time.Since(healed).Round(100*time.Millisecond))
}
