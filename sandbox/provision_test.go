package sandbox

import (
	"bytes"
	"context"
	"os"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/lambada-dev/lambada"
)

// provisionedConfig is testConfig for published version 1.
func provisionedConfig(env map[string]string) *lambada.SandboxConfig {
	cfg := testConfig(3*time.Second, env)
	cfg.Version = "1"
	return cfg
}

// mustBeReady waits until n provisioned environments of cfg are ready and
// idle in their pool.
func mustBeReady(t *testing.T, m *Manager, cfg *lambada.SandboxConfig, n int) {
	t.Helper()
	poll(t, "provisioned environments to be ready", func() bool {
		ready, _ := m.Ready(cfg.Function, cfg.Version)
		return ready == n && len(idlePIDs(m, cfg)) >= n
	})
}

func TestManager_Provision(t *testing.T) {
	m, _ := newManager(t)
	m.Now = func() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) }
	cfg := provisionedConfig(nil)
	m.Provision("fn", []lambada.SandboxTarget{{Config: cfg, N: 2}})
	mustBeReady(t, m, cfg, 2)

	// Both are idle and initialised: two overlapping invocations run in
	// them, warm, without a cold start of their own.
	res := make(chan *lambada.Result, 2)
	mark := t.TempDir() + "/go"
	for range 2 {
		go func() {
			r, _ := m.Run(context.Background(), cfg, invocation(`{"action":"wait","mark":"`+mark+`"}`))
			res <- r
		}()
	}
	poll(t, "both environments to be busy", func() bool {
		p, _ := m.pool(cfg)
		p.mu.Lock()
		defer p.mu.Unlock()
		return len(p.idle) == 0
	})
	m.mu.Lock()
	started := len(m.envs)
	m.mu.Unlock()
	if started != 2 {
		t.Fatalf("%d environments for two invocations on two provisioned ones", started)
	}
	mustTouch(t, mark)
	for range 2 {
		if r := <-res; r == nil || r.FunctionError != "" || bytes.Contains(r.LogTail, []byte("Init Duration")) {
			t.Fatalf("invocation on a provisioned environment: %+v", r)
		}
	}
	e := mustEcho(t, m, cfg)
	if e.Env["AWS_LAMBDA_INITIALIZATION_TYPE"] != lambada.InitProvisioned {
		t.Fatalf("AWS_LAMBDA_INITIALIZATION_TYPE = %q", e.Env["AWS_LAMBDA_INITIALIZATION_TYPE"])
	}

	// Never reaped, however long idle (reap stops what it reaps before it
	// returns: they would have left the idle list).
	before := idlePIDs(m, cfg)
	m.reap(m.now().Add(24 * time.Hour))
	if after := idlePIDs(m, cfg); len(before) != 2 || !slices.Equal(after, before) {
		t.Fatalf("idle provisioned environments %v before reaping, %v after", before, after)
	}
	if ready, _ := m.Ready("fn", "1"); ready != 2 {
		t.Fatalf("%d ready after reaping, want 2", ready)
	}

	// One that dies is replaced.
	crashed := mustRun(t, m, cfg, invocation(`{"action":"exit"}`))
	if crashed.FunctionError == "" {
		t.Fatalf("exit: %+v", crashed)
	}
	mustBeReady(t, m, cfg, 2)

	// Provisioning nothing turns them into ordinary environments, and stops
	// the idle ones.
	pids := idlePIDs(m, cfg)
	if len(pids) != 2 {
		t.Fatalf("%d idle environments, want 2", len(pids))
	}
	m.Provision("fn", nil)
	for _, pid := range pids {
		gone(t, pid)
	}
	if ready, failure := m.Ready("fn", "1"); ready != 0 || failure != "" {
		t.Fatalf("after deprovisioning: %d ready, failure %q", ready, failure)
	}
}

func TestManager_ProvisionInitFailure(t *testing.T) {
	m, _ := newManager(t)
	cfg := provisionedConfig(map[string]string{"TESTFN_INIT": "initerror"})
	m.Provision("fn", []lambada.SandboxTarget{{Config: cfg, N: 1}})
	poll(t, "the init failure", func() bool {
		_, failure := m.Ready("fn", "1")
		return failure == FailureInit
	})
	if ready, _ := m.Ready("fn", "1"); ready != 0 {
		t.Fatalf("%d ready after an init failure", ready)
	}
	m.mu.Lock()
	n := len(m.envs)
	m.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d environments after an init failure: no restart loop expected", n)
	}
}

func TestManager_ProvisionedNotEvicted(t *testing.T) {
	m := &Manager{Logs: &logBook{}, MemoryMB: defaultEstimateMB + 1}
	t.Cleanup(func() { m.Close() })
	a := provisionedConfig(nil)
	a.Function = "a"
	m.Provision("a", []lambada.SandboxTarget{{Config: a, N: 1}})
	mustBeReady(t, m, a, 1)
	pids := idlePIDs(m, a)

	b := testConfig(3*time.Second, nil)
	b.Function = "b"
	_, err := m.Run(context.Background(), b, invocation(`{"action":"echo"}`))
	if lambada.ErrorCode(err) != lambada.ETHROTTLED {
		t.Fatalf("a new environment beside a provisioned one filling the budget: %v", err)
	}
	if after := idlePIDs(m, a); len(pids) != 1 || !slices.Equal(after, pids) {
		t.Fatalf("idle provisioned environments %v before, %v after: evicted", pids, after)
	}
	if ready, _ := m.Ready("a", "1"); ready != 1 {
		t.Fatalf("%d ready, want 1", ready)
	}
}

// idlePIDs returns the process ids of cfg's idle environments (not those
// that died and are not forgotten yet).
func idlePIDs(m *Manager, cfg *lambada.SandboxConfig) []int {
	p, _ := m.pool(cfg)
	p.mu.Lock()
	defer p.mu.Unlock()
	var pids []int
	for _, e := range p.idle {
		if e.s.phase() == idle {
			pids = append(pids, e.s.cmd.Process.Pid)
		}
	}
	return pids
}

// mustTouch creates the file mark, releasing the "wait" invocations.
func mustTouch(t *testing.T, mark string) {
	t.Helper()
	if err := os.WriteFile(mark, nil, 0o644); err != nil {
		t.Fatal(err)
	}
}

// A provisioned environment that exits on its own before serving an
// invocation is replaced, but not forever: after maxProvisionedCrashes in
// a row the target reports FailureInit.
func TestManager_ProvisionCrashLoop(t *testing.T) {
	m, _ := newManager(t)
	cfg := provisionedConfig(nil)
	m.Provision("fn", []lambada.SandboxTarget{{Config: cfg, N: 1}})
	for i := range maxProvisionedCrashes {
		mustBeReady(t, m, cfg, 1)
		pid := idlePIDs(m, cfg)[0]
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		poll(t, "the killed environment is dead", func() bool { return !slices.Contains(idlePIDs(m, cfg), pid) })
		if i < maxProvisionedCrashes-1 {
			continue
		}
		poll(t, "the target to give up", func() bool {
			_, failure := m.Ready("fn", "1")
			return failure == FailureInit
		})
	}
	m.mu.Lock()
	n := len(m.envs)
	m.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d environments after the target gave up", n)
	}
	// Provisioning again starts over.
	m.Provision("fn", []lambada.SandboxTarget{{Config: cfg, N: 1}})
	mustBeReady(t, m, cfg, 1)
}

// An environment started for a pool that the reaper forgot meanwhile puts
// the pool back; one started for a pool that another replaced retires it.
func TestManager_PoolForgottenDuringStart(t *testing.T) {
	m, _ := newManager(t)
	cfg := testConfig(3*time.Second, nil)
	p, err := m.pool(cfg)
	if err != nil {
		t.Fatal(err)
	}
	m.mu.Lock()
	delete(m.pools, poolKey{cfg.Function, cfg.Version}) // as reap does
	m.mu.Unlock()
	s, err := p.start(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := m.pool(cfg); got != p {
		t.Fatal("the forgotten pool was not put back")
	}
	poll(t, "the environment to be idle", func() bool { return len(idlePIDs(m, cfg)) == 1 })
	if e := mustEcho(t, m, cfg); e.PID != s.cmd.Process.Pid {
		t.Fatalf("the invocation did not run in the environment started for the forgotten pool")
	}

	m.mu.Lock()
	delete(m.pools, poolKey{cfg.Function, cfg.Version})
	m.mu.Unlock()
	replacement, _ := m.pool(cfg)
	orphan, err := p.start(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if p.mu.Lock(); !p.retired {
		t.Fatal("a pool replaced during a start was not retired")
	}
	p.mu.Unlock()
	if got, _ := m.pool(cfg); got != replacement {
		t.Fatal("the replacement pool was displaced")
	}
	gone(t, orphan.cmd.Process.Pid)
}

// Provision called again while environments start (each control-plane
// change does) neither races with the starts (go test -race) nor starts
// more than asked.
func TestManager_ProvisionRepeatedly(t *testing.T) {
	m, _ := newManager(t)
	for range 20 {
		m.Provision("fn", []lambada.SandboxTarget{{Config: provisionedConfig(nil), N: 2}})
	}
	cfg := provisionedConfig(nil)
	mustBeReady(t, m, cfg, 2)
	m.mu.Lock()
	n := len(m.envs)
	m.mu.Unlock()
	if n != 2 {
		t.Fatalf("%d environments for 2 provisioned", n)
	}
}
