package sandbox

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	pollpkg "github.com/lambada-dev/lambada/internal/poll"
)

// poll waits until cond holds, failing the test after a deadline.
func poll(t *testing.T, what string, cond func() bool) {
	t.Helper()
	pollpkg.Until(t, 10*time.Second, what, cond)
}

// A new environment belongs to the invocation that started it: while it
// starts, no other invocation can take it; a caller that leaves meanwhile
// frees its slot, and the environment then waits idle for others.
func TestSandbox_StartedEnvironmentIsReserved(t *testing.T) {
	m, _ := newManager(t)
	cfg := testConfig(3*time.Second, nil)
	p, err := m.pool(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c := newCall(invocation(`{"action":"echo"}`))
	s, err := p.start(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.take(newCall(invocation(`{}`)), true); got != nil {
		t.Fatalf("the starter's environment was available to another invocation")
	}
	res, requeued, err := s.await(context.Background(), c)
	if err != nil || requeued || res.FunctionError != "" {
		t.Fatalf("starter's invocation: %v %v %v", err, requeued, res)
	}
}

// A runtime that asks for work again (its previous next was cut off) is in
// the idle pool once, not twice.
func TestSandbox_RepeatedNextPoolsOnce(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "bootstrap"), []byte("#!/bin/sh\nexec sleep 30\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	m, _ := newManager(t)
	cfg := testConfig(3*time.Second, nil)
	cfg.CodeDir = dir
	p, _ := m.pool(cfg)
	s, err := p.start(nil, nil) // started for no invocation
	if err != nil {
		t.Fatal(err)
	}
	for range 2 { // the runtime's next, cut off by a client timeout, then again
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		if _, err := s.Next(ctx); err == nil {
			t.Fatal("Next returned an event with nothing to run")
		}
		cancel()
	}
	p.mu.Lock()
	n := len(p.idle)
	p.mu.Unlock()
	if n != 1 {
		t.Fatalf("the environment is in the idle pool %d times", n)
	}
}

// Close stops every environment, including a busy one of a retired pool.
func TestSandbox_CloseStopsRetiredBusyEnvironments(t *testing.T) {
	m := &Manager{Logs: &logBook{}}
	cfg := testConfig(10*time.Second, nil)
	a := mustEcho(t, m, cfg) // idle again when mustEcho returns (Tail)
	mark := filepath.Join(t.TempDir(), "started")
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, _ = m.Run(context.Background(), cfg, invocation(`{"action":"file","msg":"bootstrap","ms":5000,"mark":"`+mark+`"}`))
	}()
	poll(t, "the busy invocation", func() bool { _, err := os.Stat(mark); return err == nil })
	cfg2 := testConfig(10*time.Second, nil)
	cfg2.Generation = 2 // retires the first pool while a is busy
	mustEcho(t, m, cfg2)
	m.Close()
	if err := syscall.Kill(a.PID, 0); err == nil {
		t.Fatalf("pid %d of the retired pool still runs after Close", a.PID)
	}
	wg.Wait()
}

// Many parallel cold starts: every invocation gets its own answer.
func TestSandbox_ParallelColdStarts(t *testing.T) {
	m, _ := newManager(t)
	cfg := testConfig(3*time.Second, nil)
	for range 3 {
		var wg sync.WaitGroup
		errs := make(chan error, 30)
		for range 30 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				res, err := m.Run(ctx, cfg, invocation(`{"action":"sleep","ms":50}`))
				if err == nil && res.FunctionError != "" {
					err = context.DeadlineExceeded
				}
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("an invocation failed: %v", err)
			}
		}
	}
}

// Init slower than the init limit is retried under the function's timeout.
func TestSandbox_SlowInit(t *testing.T) {
	m, _ := newManager(t)
	cfg := testConfig(5*time.Second, map[string]string{"TESTFN_INIT": "slow"})
	cfg.InitTimeout = time.Second
	if res := mustRun(t, m, cfg, invocation(`{"action":"echo"}`)); res.FunctionError != "" {
		t.Fatalf("init of 1.5 s with a 1 s init limit and a 5 s timeout: %s", res.Payload)
	}
}

// A runtime that asks for work before answering its invocation gets
// InvalidStateTransition, as on AWS, and the invocation goes on.
func TestSandbox_NextBeforeAnswer(t *testing.T) {
	m, _ := newManager(t)
	cfg := testConfig(3*time.Second, nil)
	res := mustRun(t, m, cfg, invocation(`{"action":"next"}`))
	want := `{"body":{"errorMessage":"State transition from Running to Ready failed for runtime. Error: State transition is not allowed","errorType":"InvalidStateTransition"},"status":403}`
	if res.FunctionError != "" || string(res.Payload) != want {
		t.Fatalf("next before answering: %q %s", res.FunctionError, res.Payload)
	}
	mustEcho(t, m, cfg) // the environment still works
}
