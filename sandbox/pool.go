package sandbox

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/lambada-dev/lambada"
)

// DefaultKeepWarm is how long an idle environment is kept for reuse.
const DefaultKeepWarm = 10 * time.Minute

// Manager keeps one pool of execution environments per function version and
// runs invocations on them: a warm idle environment when there is one, a new
// one otherwise. Cold starts of different invocations run in parallel. Idle
// environments are stopped after KeepWarm, and, when a new environment
// would not fit in the memory budget, least recently used first.
type Manager struct {
	Logs   LogSink      // required
	Logger *slog.Logger // defaults to discarding

	// KeepWarm is how long an idle environment is kept (DefaultKeepWarm
	// when zero).
	KeepWarm time.Duration
	// MemoryMB is the node's budget for the memory live environments
	// actually use (not their MemorySize, which is only a ceiling); zero
	// means no budget.
	MemoryMB int
	// Now is the clock of idle times (time.Now when nil).
	Now func() time.Time

	mu     sync.Mutex
	pools  map[poolKey]*pool
	envs   map[*Sandbox]*envState // every live environment, of every pool
	usedMB int                    // Σ envState.memMB
	closed bool
	reaper reaper

	targets      map[poolKey]*target // provisioned concurrency, per version
	provisioning sync.WaitGroup      // provision goroutines
}

type poolKey struct{ function, version string }

// envState is the Manager's view of one live environment (guarded by
// Manager.mu).
type envState struct {
	pool  *pool
	memMB int // what it counts against the budget: measured, or the estimate it started with
}

// pool holds the environments of one function version at one generation of
// its configuration.
type pool struct {
	m       *Manager
	cfg     *Config
	mu      sync.Mutex
	idle    []idleEnv // most recently used last
	retired bool

	peakMB int // the most any of its environments was seen to use (Manager.mu)
}

type idleEnv struct {
	s     *Sandbox
	since time.Time
}

// Run runs inv on an environment for cfg and returns its result. It calls
// inv.Release exactly once, whatever happens: when the environment is done
// with the invocation, or before returning if none took it. A
// configuration whose Generation is newer than the pool's replaces the pool:
// new invocations start new environments, in-flight ones finish on the old
// code, and old environments are stopped as they become idle.
func (m *Manager) Run(ctx context.Context, cfg *Config, inv *lambada.Invocation) (*lambada.Result, error) {
	p, err := m.pool(cfg)
	if err != nil {
		release(inv)
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		s := p.take()
		if s == nil {
			t0 := time.Now()
			s, err = p.start(nil)
			var se *StartError
			if errors.As(err, &se) {
				release(inv)
				return p.startFailure(inv, se.Fault, time.Since(t0)), nil
			} else if err != nil {
				release(inv)
				return nil, err
			}
		}
		res, err := s.Invoke(ctx, inv)
		switch {
		case errors.Is(err, errGone) && attempt < 3:
			continue // it died while idle; take another
		case errors.Is(err, errGone), errors.Is(err, errBusy):
			release(inv) // no environment took it
		}
		return res, err
	}
}

// release frees inv's concurrency when no environment took it.
func release(inv *lambada.Invocation) {
	if inv.Release != nil {
		inv.Release()
	}
}

func (m *Manager) pool(cfg *Config) (*pool, error) {
	key := poolKey{cfg.Function, cfg.Version}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, errors.New("sandbox: manager is closed")
	}
	m.startReaper()
	p := m.pools[key]
	if p == nil || cfg.Generation > p.cfg.Generation {
		if p != nil {
			p.retire()
		}
		if m.pools == nil {
			m.pools = make(map[poolKey]*pool)
		}
		p = &pool{m: m, cfg: cfg}
		m.pools[key] = p
	}
	// An invocation that read an older configuration than the pool's runs on
	// the newer one, as if it had arrived a moment later.
	return p, nil
}

// start starts a new environment, reserved for the caller, once the memory
// budget has room for it. With t it is started for provisioned concurrency
// and counted as one of t's environments, if t still wants one; t.starting
// is decremented once, whatever happens.
func (p *pool) start(t *target) (*Sandbox, error) {
	m := p.m
	logger := m.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	failed := func(err error) (*Sandbox, error) {
		if t != nil {
			m.mu.Lock()
			t.starting--
			m.mu.Unlock()
		}
		return nil, err
	}
	est, err := m.makeRoom(p)
	if err != nil {
		return failed(err)
	}
	cfg := p.cfg
	if t != nil {
		c := *p.cfg
		c.InitializationType = lambada.InitProvisioned
		c.InitTimeout = ProvisionedInitTimeout
		cfg = &c
	}
	s, err := start(cfg, m.Logs, logger, p.put, p.remove)
	if err != nil {
		m.unreserve(est)
		return failed(err)
	}
	// Starts run in parallel; registering afterwards still lets Close see
	// every environment, since one started after Close is closed here. One
	// that exited already was not registered by remove, nor is it here.
	m.mu.Lock()
	if t != nil {
		t.starting--
	}
	closed, orphan := m.closed, false
	switch {
	case closed || s.removed:
		m.usedMB -= est
		if t != nil && !closed {
			m.crashedLocked(t) // it exited before it could be counted
		}
	default:
		if m.envs == nil {
			m.envs = make(map[*Sandbox]*envState)
		}
		m.envs[s] = &envState{pool: p, memMB: est}
		orphan = m.adoptLocked(p)
		if t != nil && m.wantsLocked(t) {
			t.envs[s] = true
			s.provisioned.Store(true)
		}
	}
	m.mu.Unlock()
	if closed {
		s.Close()
		return nil, errors.New("sandbox: manager is closed")
	}
	if orphan {
		p.retire() // s stops when it is done
	}
	return s, nil
}

// adoptLocked puts p back among the pools if the reaper forgot it while an
// environment was starting for it, and reports whether another pool took
// its place meanwhile: p is then an orphan that no invocation will take
// from. m.mu is held.
func (m *Manager) adoptLocked(p *pool) (orphan bool) {
	key := poolKey{p.cfg.Function, p.cfg.Version}
	p.mu.Lock()
	retired := p.retired
	p.mu.Unlock()
	switch cur := m.pools[key]; {
	case retired || cur == p:
		return false
	case cur == nil:
		m.pools[key] = p
		return false
	}
	return true
}

// take pops the most recently used idle environment, or returns nil.
func (p *pool) take() *Sandbox {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := len(p.idle); n > 0 {
		s := p.idle[n-1].s
		p.idle[n-1] = idleEnv{}
		p.idle = p.idle[:n-1]
		s.inPool = false
		return s
	}
	return nil
}

// put returns an environment whose runtime waits for work. Putting one that
// is already idle (its runtime asked again) or dead changes nothing. It also
// counts what the environment now uses against the budget.
func (p *pool) put(s *Sandbox) {
	p.m.noteMemory(s)
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.retired:
		s.stop()
	case s.inPool || s.isDead():
	default:
		s.inPool = true
		p.idle = append(p.idle, idleEnv{s: s, since: p.m.now()})
	}
}

// remove forgets an environment whose process has exited.
func (p *pool) remove(s *Sandbox) {
	p.mu.Lock()
	p.unidleLocked(s)
	p.mu.Unlock()
	exit := s.exitInfo()
	m := p.m
	m.mu.Lock()
	s.removed = true
	if st, ok := m.envs[s]; ok {
		m.usedMB -= st.memMB
		delete(m.envs, s)
	}
	m.forgetProvisionedLocked(s, exit)
	m.mu.Unlock()
}

// unidleLocked takes s out of the idle list, if it is there.
func (p *pool) unidleLocked(s *Sandbox) bool {
	for i, e := range p.idle {
		if e.s == s {
			p.idle = append(p.idle[:i], p.idle[i+1:]...)
			s.inPool = false
			return true
		}
	}
	return false
}

// retire stops the idle environments; busy ones stop when they come back.
func (p *pool) retire() {
	p.mu.Lock()
	p.retired = true
	idle := p.idle
	p.idle = nil
	p.mu.Unlock()
	for _, e := range idle {
		e.s.stop()
	}
}

// Retire stops the environments of every version of function, the idle
// ones now and the busy ones when their invocations end: the function was
// deleted. Its provisioned environments are released with Provision first.
func (m *Manager) Retire(function string) {
	var pools []*pool
	m.mu.Lock()
	for key, p := range m.pools {
		if key.function == function {
			pools = append(pools, p)
			delete(m.pools, key)
		}
	}
	m.mu.Unlock()
	for _, p := range pools {
		p.retire()
	}
}

// Close stops every environment, busy or idle, of every pool, and waits
// until their processes are reaped. Run fails afterwards.
func (m *Manager) Close() error {
	m.mu.Lock()
	m.closed = true
	pools := m.pools
	m.pools = nil
	envs := make([]*Sandbox, 0, len(m.envs))
	for s := range m.envs {
		envs = append(envs, s)
	}
	m.mu.Unlock()
	m.reaper.stop()
	for _, p := range pools {
		p.retire()
	}
	for _, s := range envs {
		s.Close()
	}
	m.provisioning.Wait()
	return nil
}

// startFailure is the result of an invocation whose environment could not be
// started, with the log lines AWS would show.
func (p *pool) startFailure(inv *lambada.Invocation, f lambada.FunctionFault, took time.Duration) *lambada.Result {
	f = lambada.Fault(f.Type, inv.RequestID, f.Message)
	report := lambada.Report{RequestID: inv.RequestID, MemorySize: p.cfg.MemorySize, Duration: took, Status: "error", ErrorType: f.Type}
	lines := []string{lambada.StartLine(inv.RequestID, p.cfg.Version), lambada.EndLine(inv.RequestID), report.Line(), f.FaultLines()}
	var log []byte
	for _, line := range lines {
		p.m.Logs.FunctionLog(p.cfg.Function, p.cfg.Version, []byte(line))
		log = append(log, line...)
	}
	res := &lambada.Result{Payload: f.Payload(), FunctionError: lambada.UnhandledFunctionErr, ExecutedVersion: p.cfg.Version}
	if inv.LogType == lambada.LogTail {
		res.LogTail = lambada.Tail(log)
	}
	return res
}
