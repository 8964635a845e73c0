package sandbox

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lambada-dev/lambada"
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
	cfg := testConfig(time.Second, map[string]string{"TESTFN_INIT": "slow", "TESTFN_INIT_MS": "300"})
	cfg.InitTimeout = 100 * time.Millisecond
	if res := mustRun(t, m, cfg, invocation(`{"action":"echo"}`)); res.FunctionError != "" {
		t.Fatalf("init of 300 ms with a 100 ms init limit and a 1 s timeout: %s", res.Payload)
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

// A timed-out invocation's process is killed, not left to run on.
func TestSandbox_TimeoutKillsTheProcess(t *testing.T) {
	m, _ := newManager(t)
	cfg := testConfig(200*time.Millisecond, nil)
	res := mustRun(t, m, cfg, invocation(`{"action":"sleep","ms":60000}`))
	if !strings.Contains(string(res.Payload), "Sandbox.Timedout") {
		t.Fatalf("result %s", res.Payload)
	}
	// The function printed its pid before sleeping.
	i := strings.Index(string(res.LogTail), "pid=")
	if i < 0 {
		t.Fatalf("no pid in the tail %q", res.LogTail)
	}
	pid, err := strconv.Atoi(strings.Fields(string(res.LogTail[i+len("pid="):]))[0])
	if err != nil {
		t.Fatal(err)
	}
	poll(t, "the timed-out process to be killed", func() bool { return syscall.Kill(pid, 0) != nil })
}

// A response posted for another request id is refused (400
// InvalidRequestID) and does not answer the invocation.
func TestSandbox_WrongRequestID(t *testing.T) {
	m, _ := newManager(t)
	res := mustRun(t, m, testConfig(3*time.Second, nil), invocation(`{"action":"wrongid"}`))
	want := `{"body":{"errorMessage":"Invalid request ID","errorType":"InvalidRequestID"},"status":400}`
	if res.FunctionError != "" || string(res.Payload) != want {
		t.Fatalf("the invocation answered %q %s, want %s", res.FunctionError, res.Payload, want)
	}
}

// A caller that leaves before its invocation is delivered frees its slot at
// once; one that leaves after has it freed when the invocation ends, which
// it does on its own.
func TestSandbox_CallerLeavesFreesTheSlot(t *testing.T) {
	m, _ := newManager(t)
	slots := m.Slots.(*slotBook)
	slow := testConfig(3*time.Second, map[string]string{"TESTFN_INIT": "slow", "TESTFN_INIT_MS": "400"})
	inv := invocation(`{"action":"echo"}`)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := m.Run(ctx, slow, inv); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Run: %v", err)
	}
	if n := slots.times(inv); n != 1 {
		t.Fatalf("a caller that left during the cold start freed its slot %d times", n)
	}

	cfg := testConfig(3*time.Second, nil)
	mustEcho(t, m, cfg) // a warm environment
	mark := filepath.Join(t.TempDir(), "started")
	inv = invocation(`{"action":"file","msg":"bootstrap","ms":300,"mark":"` + mark + `"}`)
	ctx, cancel = context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := m.Run(ctx, cfg, inv); done <- err }()
	poll(t, "the invocation starts", func() bool { _, err := os.Stat(mark); return err == nil })
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run: %v", err)
	}
	if n := slots.times(inv); n != 0 {
		t.Fatalf("a delivered invocation freed its slot when its caller left, before it ended")
	}
	poll(t, "the invocation ends and frees its slot", func() bool { return slots.times(inv) == 1 })
}

// answeredEnv is an environment of p without a process, whose runtime has
// answered an invocation and not asked for the next: an invocation can be
// handed off to it.
func answeredEnv(p *pool) *Sandbox {
	s := &Sandbox{cfg: p.cfg, pool: p, logger: p.m.logger(),
		life:       lifecycle{phase: answered, cur: newCall(invocation(`{}`)), replied: true, epoch: 1, initDone: true, served: true},
		deliveries: make(chan *call, 1), dying: make(chan struct{}), exited: make(chan struct{})}
	p.put(s, 1, true)
	return s
}

// A call handed back to Run (requeued) whose caller then leaves is freed
// once; a call requeued, handed off again and withdrawn there is freed once
// too (Run does not free it again).
func TestSandbox_RequeueAndCallerLeaving(t *testing.T) {
	m, _ := newManager(t)
	slots := m.Slots.(*slotBook)
	cfg := testConfig(3*time.Second, nil)
	p, _ := m.pool(cfg)
	left, cancel := context.WithCancel(context.Background())
	cancel()

	// Requeued, and its caller gone before Run reads the outcome.
	a := answeredEnv(p)
	c := newCall(invocation(`{}`))
	if got := p.take(c, true); got != a {
		t.Fatal("the call was not handed off")
	}
	a.handoffExpired(c)
	<-c.done // as if the caller's context won the race with the outcome
	if _, requeued, err := a.await(left, c); !requeued || err == nil {
		t.Fatalf("await after a requeue: requeued %v, err %v", requeued, err)
	}
	if n := slots.times(c.inv); n != 1 {
		t.Fatalf("a requeued call whose caller left was freed %d times", n)
	}

	// Requeued by one environment, handed off to another, withdrawn there.
	a, b := answeredEnv(p), answeredEnv(p)
	c = newCall(invocation(`{}`))
	first := p.take(c, true)
	first.handoffExpired(c)
	<-c.done
	second := a
	if first == a {
		second = b
	}
	if got := p.take(c, true); got != second {
		t.Fatal("the requeued call was not handed off again")
	}
	if _, requeued, err := second.await(left, c); requeued || err == nil {
		t.Fatalf("await of a withdrawn call: requeued %v, err %v", requeued, err)
	}
	if n := slots.times(c.inv); n != 1 {
		t.Fatalf("a call requeued, handed off again and withdrawn was freed %d times", n)
	}
}

// An answered environment whose runtime has asked for work again is taken
// even before its pool has heard that it is idle: the invocation does not
// start another environment in that moment.
func TestSandbox_HandoffWhileTurningIdle(t *testing.T) {
	m, _ := newManager(t)
	p, _ := m.pool(testConfig(3*time.Second, nil))
	a := answeredEnv(p)
	a.mu.Lock()
	_, err := a.life.asked() // idle now; its effects (the pool's idle list) not applied yet
	a.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	c := newCall(invocation(`{}`))
	if got := p.take(c, true); got != a {
		t.Fatalf("took %p, want the environment turning idle %p", got, a)
	}
	a.mu.Lock()
	if c.timer != nil {
		c.timer.Stop() // the environment has no process to time out
	}
	ph := a.life.phase
	a.mu.Unlock()
	if ph != running {
		t.Fatalf("the environment is %v, want running", ph)
	}
}

// Invocations one after the other run in one environment: one that arrives
// while the runtime has answered but not yet asked for the next event waits
// for it (a handoff) instead of starting another environment.
func TestManager_HandoffKeepsOneEnvironment(t *testing.T) {
	m, _ := newManager(t)
	m.HandoffWait = time.Minute // on a busy machine a runtime may take longer than the default to ask
	cfg := testConfig(3*time.Second, nil)
	for range 200 {
		inv := invocation(`{"action":"noop"}`)
		inv.LogType = lambada.LogNone // the caller returns at the answer, before the runtime asks again
		mustRun(t, m, cfg, inv)
	}
	if n := m.Environments(); n != 1 {
		t.Fatalf("200 invocations in a row kept %d environments, want 1", n)
	}
}

// Fence stops the environments running an invocation, whose callers
// get the answer of one that died, keeps the idle ones, and runs nothing
// until it is lifted.
func TestManager_Fence(t *testing.T) {
	m, _ := newManager(t)
	cfg := testConfig(30*time.Second, nil)
	idle := mustEcho(t, m, cfg)
	busyCfg := testConfig(30*time.Second, nil)
	busyCfg.Function = "busy"
	mark := filepath.Join(t.TempDir(), "started")
	done := make(chan *lambada.Result, 1)
	go func() {
		res, err := m.Run(context.Background(), busyCfg, invocation(`{"action":"file","msg":"bootstrap","ms":60000,"mark":"`+mark+`"}`))
		if err != nil {
			res = &lambada.Result{Payload: []byte(err.Error())}
		}
		done <- res
	}()
	poll(t, "the busy invocation", func() bool { _, err := os.Stat(mark); return err == nil })
	if n := m.Fence(true); n != 1 {
		t.Errorf("stopped %d environments, want the busy one", n)
	}
	res := pollpkg.Receive(t, 10*time.Second, "the busy invocation's end", done)
	if res.FunctionError == "" {
		t.Errorf("the stopped invocation answered %s", res.Payload)
	}
	if err := syscall.Kill(idle.PID, 0); err != nil {
		t.Errorf("the idle environment is gone: %v", err)
	}
	fenced := filepath.Join(t.TempDir(), "fenced")
	refused := invocation(`{"action":"span","mark":"` + fenced + `"}`)
	_, err := m.Run(context.Background(), cfg, refused)
	if lambada.ErrorCode(err) != lambada.ETHROTTLED {
		t.Errorf("an invocation while fenced: %v, want the throttle", err)
	}
	if n := m.Slots.(*slotBook).times(refused); n != 1 {
		t.Errorf("the refused invocation's slot was freed %d times, want once", n)
	}
	if _, err := os.Stat(fenced); err == nil {
		t.Errorf("an invocation ran while fenced")
	}
	m.Fence(false)
	if e := mustEcho(t, m, cfg); e.PID != idle.PID {
		t.Errorf("after the fence, the invocation ran in %d, not the idle environment %d", e.PID, idle.PID)
	}
}

// An environment that starts for an invocation admitted before the fence
// but counted after it (Fence did not see it) is stopped as it is counted.
func TestManager_FenceStopsWhatStartsAcrossIt(t *testing.T) {
	m, _ := newManager(t)
	logs := m.Logs
	m.Logs = fenceAtInit{logs, m}
	mark := filepath.Join(t.TempDir(), "ran")
	inv := invocation(`{"action":"span","mark":"` + mark + `"}`)
	res, err := m.Run(context.Background(), testConfig(30*time.Second, nil), inv)
	if err == nil && res.FunctionError == "" {
		t.Errorf("the invocation answered %s, want the throttle or an environment that died", res.Payload)
	}
	if _, err := os.Stat(mark); err == nil {
		t.Errorf("the invocation ran past the fence")
	}
	poll(t, "the invocation's slot freed", func() bool { return m.Slots.(*slotBook).times(inv) == 1 })
}

// fenceAtInit fences its manager as an environment starts (its INIT_START
// line), before the manager counts it.
type fenceAtInit struct {
	LogSink
	m *Manager
}

func (f fenceAtInit) FunctionLog(src *lambada.LogSource, line []byte) {
	if strings.HasPrefix(string(line), "INIT_START") {
		f.m.Fence(true)
	}
	f.LogSink.FunctionLog(src, line)
}
