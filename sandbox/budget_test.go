package sandbox

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lambada-dev/lambada"
)

// gone waits until pid no longer exists.
func gone(t *testing.T, pid int) {
	t.Helper()
	poll(t, "the process to stop", func() bool { return syscall.Kill(pid, 0) != nil })
}

func TestManager_ReapsIdleEnvironments(t *testing.T) {
	var mu sync.Mutex
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	m := &Manager{Logs: &logBook{}, KeepWarm: time.Minute, Now: now}
	t.Cleanup(func() { m.Close() })
	cfg := testConfig(3*time.Second, nil)
	a := mustEcho(t, m, cfg) // idle since clock

	m.reap(clock.Add(30 * time.Second))
	if b := mustEcho(t, m, cfg); b.PID != a.PID {
		t.Fatalf("an environment idle for 30 s of a 1 min keep-warm was stopped")
	}
	m.reap(clock.Add(2 * time.Minute))
	gone(t, a.PID)
	poll(t, "the pool to empty", func() bool { return m.UsedMB() == 0 })
	if c := mustEcho(t, m, cfg); c.PID == a.PID || c.Invocations != 1 {
		t.Fatalf("after reaping, the invocation ran in pid %d (invocation %d)", c.PID, c.Invocations)
	}
}

func TestManager_MemoryBudget(t *testing.T) {
	m := &Manager{Logs: &logBook{}, MemoryMB: defaultEstimateMB + 1}
	a, b := testConfig(10*time.Second, nil), testConfig(10*time.Second, nil)
	a.Function, b.Function = "a", "b"
	ea := mustEcho(t, m, a)
	if used := m.UsedMB(); used <= 0 || used > defaultEstimateMB {
		t.Fatalf("after one environment the budget counts %d MB", used)
	}
	// b does not fit beside a: the idle a is stopped to make room.
	eb := mustEcho(t, m, b)
	gone(t, ea.PID)
	if eb.PID == ea.PID {
		t.Fatal("b ran in a's environment")
	}

	// With b busy and the budget full, a new environment is refused.
	mark := filepath.Join(t.TempDir(), "go")
	done := make(chan *lambada.Result, 1)
	go func() {
		res, _ := m.Run(context.Background(), b, invocation(`{"action":"wait","mark":"`+mark+`"}`))
		done <- res
	}()
	poll(t, "b to be busy", func() bool {
		p, _ := m.pool(b)
		p.mu.Lock()
		defer p.mu.Unlock()
		return len(p.idle) == 0
	})
	m.mu.Lock()
	m.MemoryMB = 1
	m.mu.Unlock()
	_, err := m.Run(context.Background(), a, invocation(`{"action":"echo"}`))
	if lambada.ErrorCode(err) != lambada.ETHROTTLED || err.(*lambada.Error).Reason != lambada.ReasonConcurrentLimit {
		t.Fatalf("a new environment over the budget with nothing idle: %v", err)
	}
	if err := os.WriteFile(mark, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if res := <-done; res == nil || res.FunctionError != "" {
		t.Fatalf("the busy invocation: %+v", res)
	}
	m.Close()
	if used := m.UsedMB(); used != 0 {
		t.Fatalf("%d MB still counted after Close", used)
	}
}

// A deleted function's environments stop at once, not after the keep-warm.
func TestManager_Retire(t *testing.T) {
	m, _ := newManager(t)
	fn, other := testConfig(3*time.Second, nil), testConfig(3*time.Second, nil)
	other.Function = "other"
	a, b := mustEcho(t, m, fn), mustEcho(t, m, other)
	m.Retire("fn")
	gone(t, a.PID)
	if again := mustEcho(t, m, other); again.PID != b.PID {
		t.Fatal("retiring fn stopped another function's environment")
	}
	if c := mustEcho(t, m, fn); c.PID == a.PID || c.Invocations != 1 {
		t.Fatalf("after Retire, fn ran in pid %d (invocation %d)", c.PID, c.Invocations)
	}
}
