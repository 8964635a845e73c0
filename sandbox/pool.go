package sandbox

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lambada-dev/lambada"
	"github.com/lambada-dev/lambada/walls"
)

// DefaultKeepWarm is how long an idle environment is kept for reuse.
const DefaultKeepWarm = 10 * time.Minute

// DefaultHandoffWait bounds how long an invocation that finds no idle
// environment waits for one whose runtime has answered and is about to ask
// for its next event, before it starts a new one. Measured at 64 closed-loop
// clients on 2 CPUs, where a runtime that answered competes for a CPU with
// 63 others: the wait is 1.4-3.8 ms at p50, 23-42 ms at p99 and at most 42
// ms (aws-lambda-go and minimal runtimes); a bound of 10 ms started 20-27
// needless environments (89 for 64 clients), this one none.
const DefaultHandoffWait = 50 * time.Millisecond

// maxRequeues bounds how often one invocation is handed back by
// environments that died or kept it waiting, before Run gives up.
const maxRequeues = 8

// Manager keeps one pool of execution environments per function version and
// runs invocations on them: a warm idle environment when there is one, one
// about to be free (its runtime answered) when there is none, a new one
// otherwise. Cold starts of different invocations run in parallel. Idle
// environments are stopped after KeepWarm, and, when a new environment
// would not fit in the memory budget, least recently used first.
type Manager struct {
	Logs   LogSink       // required
	Slots  Slots         // hears when an invocation's environment is done with it; nil: nobody
	Meter  lambada.Meter // hears each invocation's Duration and each cold start; nil: nobody
	Logger *slog.Logger  // defaults to discarding

	// KeepWarm is how long an idle environment is kept (DefaultKeepWarm
	// when zero).
	KeepWarm time.Duration
	// MemoryMB is the node's budget for the memory live environments
	// actually use (not their MemorySize, which is only a ceiling); zero
	// means no budget.
	MemoryMB int
	// HandoffWait bounds the wait for an environment about to be free
	// (DefaultHandoffWait when zero; negative: never wait).
	HandoffWait time.Duration
	// Now is the clock of idle times (time.Now when nil).
	Now func() time.Time
	// Walls is where environments' memory walls are made (walls.Detect
	// when nil).
	Walls *walls.Host
	// Jail walls each environment in (its own user and namespaces); nil:
	// none. Router, with a jail, serves every environment's Runtime API on
	// one address; nil: each has a listener of its own.
	Jail   *walls.Jail
	Router *walls.Router
	// Credentials, when set, gives each environment the variables of its
	// execution role's credentials (AWS_ACCESS_KEY_ID, …); none for a role
	// it does not know.
	Credentials func(role string) []string
	// Forkers, with a jail, fork the environments of the runtimes they
	// have a zygote for; nil: every environment starts by exec.
	Forkers forkers
	// Idles hears when a function version comes to have an idle
	// environment, or no longer has one; nil: nobody.
	Idles IdleWatcher

	mu     sync.Mutex
	pools  map[poolKey]*pool
	envs   map[*Sandbox]*envState // every live environment, of every pool
	usedMB int                    // Σ envState.memMB
	closed bool
	fenced atomic.Bool // Fence: stored with mu held, so that a start registered under mu sees it
	reaper reaper

	targets      map[poolKey]*target // provisioned concurrency, per version
	provisioning sync.WaitGroup      // provision goroutines, and those making spares
	spares       spares              // spare environments (spare.go)
}

type poolKey struct{ function, version string }

// IdleWatcher hears that a version of a function (by its AccountKey) came
// to have an idle environment or no longer has one: HasIdle says which. It
// is called with a pool's lock held and must not block.
type IdleWatcher interface {
	IdleChanged(function, version string)
}

// HasIdle reports whether version of the function whose AccountKey is
// function has an environment free now, or about to be (its runtime
// answered and will ask for the next event).
func (m *Manager) HasIdle(function, version string) bool {
	m.mu.Lock()
	p := m.pools[poolKey{function, version}]
	m.mu.Unlock()
	if p == nil {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.idle) > 0 || len(p.answered) > 0
}

// HasEnvironment reports whether version of the function whose AccountKey
// is function has an environment alive now, in any phase.
func (m *Manager) HasEnvironment(function, version string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	p := m.pools[poolKey{function, version}]
	for _, st := range m.envs {
		if p != nil && st.pool == p {
			return true
		}
	}
	return false
}

// idleChangedLocked tells m.Idles when p's idle list, before environments
// long, went from empty to not or back. p.mu is held.
func (p *pool) idleChangedLocked(before int) {
	if p.m.Idles != nil && (before == 0) != (len(p.idle) == 0) {
		p.m.Idles.IdleChanged(p.cfg.Key(), p.cfg.Version)
	}
}

// forkers find what forks environments of a runtime (nil: exec).
type forkers interface {
	Forker(runtime string) walls.Forker
}

// envState is the Manager's view of one live environment.
type envState struct {
	pool  *pool
	memMB int // what it counts against the budget: measured, or the estimate it started with
}

// pool holds the environments of one function version at one generation of
// its configuration, and knows which are available. Its lists are hints
// checked against each environment's lifecycle: an entry names the epoch at
// which its environment became available, and taking it fails if the
// environment has moved on since.
type pool struct {
	m   *Manager
	cfg *lambada.SandboxConfig

	mu       sync.Mutex
	idle     []idleEnv           // most recently used last
	answered map[*Sandbox]uint64 // environments about to be free, at their epochs
	retired  bool
	peakMB   int // the most any of its environments was seen to use
}

type idleEnv struct {
	s     *Sandbox
	epoch uint64
	since time.Time
}

// Run runs inv on an environment for cfg and returns its result. It tells
// Slots exactly once that inv no longer holds an environment, whatever
// happens. A configuration whose Generation is newer than the pool's
// replaces the pool: new invocations start new environments, in-flight ones
// finish on the old code, and old environments are stopped as they become
// idle. If ctx ends first, an invocation not yet delivered is withdrawn,
// and a delivered one goes on without its caller, as on AWS.
func (m *Manager) Run(ctx context.Context, cfg *lambada.SandboxConfig, inv *lambada.Invocation) (*lambada.Result, error) {
	p, err := m.pool(cfg)
	if err != nil {
		m.free(inv)
		return nil, err
	}
	c := newCall(inv)
	handoff := m.handoffWait() > 0
	for requeues := 0; ; {
		s := p.take(c, handoff)
		if s == nil && m.fenced.Load() {
			m.free(inv)
			return nil, lambada.Throttled(lambada.ReasonConcurrentLimit)
		}
		if s == nil {
			t0 := time.Now()
			c.cold = true
			s, err = p.start(c, nil)
			var se *StartError
			if errors.As(err, &se) {
				m.free(inv)
				return p.startFailure(inv, se.Fault, time.Since(t0)), nil
			} else if err != nil {
				m.free(inv)
				return nil, err
			}
		}
		res, requeued, err := s.await(ctx, c)
		if !requeued || err != nil {
			return res, err
		}
		if requeues++; requeues > maxRequeues {
			m.free(inv)
			return nil, errors.New("sandbox: no environment kept the invocation")
		}
		// Handed back: by an environment that died, or one whose runtime
		// did not ask in time. Take an idle one or start one.
		c.cold, handoff = false, false
	}
}

// free tells Slots that inv no longer holds an environment.
func (m *Manager) free(inv *lambada.Invocation) {
	if m.Slots != nil {
		m.Slots.Free(inv)
	}
}

func (m *Manager) handoffWait() time.Duration {
	if m.HandoffWait == 0 {
		return DefaultHandoffWait
	}
	return m.HandoffWait
}

func (m *Manager) wallsHost() *walls.Host {
	if m.Walls == nil {
		return walls.Detect(m.logger())
	}
	return m.Walls
}

func (m *Manager) logger() *slog.Logger {
	if m.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return m.Logger
}

func (m *Manager) pool(cfg *lambada.SandboxConfig) (*pool, error) {
	key := poolKey{cfg.Key(), cfg.Version}
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
		p = &pool{m: m, cfg: cfg, answered: make(map[*Sandbox]uint64)}
		m.pools[key] = p
	}
	// An invocation that read an older configuration than the pool's runs on
	// the newer one, as if it had arrived a moment later.
	return p, nil
}

// take assigns c to an available environment of p and returns it, or nil:
// the most recently used idle one (c is delivered at once), else, when
// handoff allows, one about to be free (c waits for its runtime to ask).
func (p *pool) take(c *call, handoff bool) *Sandbox {
	wait := p.m.handoffWait()
	p.mu.Lock()
	before := len(p.idle)
	for n := len(p.idle); n > 0; n = len(p.idle) {
		e := p.idle[n-1]
		p.idle[n-1] = idleEnv{}
		p.idle = p.idle[:n-1]
		eff, err := e.s.assign(c, e.epoch, wait)
		if err == nil {
			p.idleChangedLocked(before)
			p.mu.Unlock()
			e.s.apply(eff, nil)
			return e.s
		}
		if err == errFenced { // still idle: it waits for the fence to lift
			p.idle = append(p.idle, e)
			break
		}
	}
	p.idleChangedLocked(before)
	if handoff {
		// An answered environment whose runtime has asked again since is
		// idle, but the pool may not have heard of it yet: it is taken at
		// whatever epoch it is, as long as it is free.
		for s := range p.answered {
			eff, err := s.assign(c, anyEpoch, wait)
			if err == errFenced {
				break
			}
			delete(p.answered, s)
			if err == nil {
				p.mu.Unlock()
				s.apply(eff, nil)
				return s
			}
		}
	}
	p.mu.Unlock()
	return nil
}

// put records that s became available at epoch: idle, or answered (about
// to be free). It also counts what s now uses against the budget. An idle
// environment of a retired pool is stopped instead.
func (p *pool) put(s *Sandbox, epoch uint64, answered bool) {
	if !answered {
		p.m.noteMemory(s)
	}
	p.mu.Lock()
	switch {
	case p.retired:
		p.mu.Unlock()
		if !answered {
			s.stopIdle(epoch)
		}
		return
	case answered:
		p.answered[s] = epoch
	default:
		delete(p.answered, s)
		p.idle = append(p.idle, idleEnv{s: s, epoch: epoch, since: p.m.now()})
		p.idleChangedLocked(len(p.idle) - 1)
	}
	p.mu.Unlock()
}

// forget takes s out of p's lists.
func (p *pool) forget(s *Sandbox) {
	p.mu.Lock()
	delete(p.answered, s)
	p.unidleLocked(s)
	p.mu.Unlock()
}

// unidleLocked takes s out of the idle list, if it is there, and returns
// its entry.
func (p *pool) unidleLocked(s *Sandbox) (idleEnv, bool) {
	for i, e := range p.idle {
		if e.s == s {
			p.idle = append(p.idle[:i], p.idle[i+1:]...)
			p.idleChangedLocked(len(p.idle) + 1)
			return e, true
		}
	}
	return idleEnv{}, false
}

// start starts a new environment for c (nil: ahead of time), once the
// memory budget has room for it. With t it is started for provisioned
// concurrency and counted as one of t's environments, if t still wants one;
// t.starting is decremented once, whatever happens.
func (p *pool) start(c *call, t *target) (*Sandbox, error) {
	m := p.m
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
	s, err := start(p, cfg, c, m.logger())
	if err != nil {
		m.unreserve(est)
		return failed(err)
	}
	// Starts run in parallel; registering afterwards still lets Close see
	// every environment, since one started after Close is closed here. One
	// that exited already is not registered.
	m.mu.Lock()
	if t != nil {
		t.starting--
	}
	closed, orphan := m.closed, false
	fenced := c != nil && m.fenced.Load() // Fence missed it: it was not counted yet
	switch {
	case closed || s.gone.Load():
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
	if fenced {
		s.stop()
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
	key := poolKey{p.cfg.Key(), p.cfg.Version}
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

// remove forgets an environment whose process has exited.
func (p *pool) remove(s *Sandbox) {
	p.forget(s)
	exit := s.exitInfo()
	m := p.m
	m.mu.Lock()
	if st, ok := m.envs[s]; ok {
		m.usedMB -= st.memMB
		delete(m.envs, s)
	}
	m.forgetProvisionedLocked(s, exit)
	m.mu.Unlock()
}

// retire stops the idle environments; busy ones stop when they come back.
func (p *pool) retire() {
	p.mu.Lock()
	p.retired = true
	idle := p.idle
	p.idle = nil
	p.idleChangedLocked(len(idle))
	p.mu.Unlock()
	for _, e := range idle {
		e.s.stopIdle(e.epoch)
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

// errFenced: the manager is fenced, and no environment takes an
// invocation.
var errFenced = errors.New("sandbox: fenced")

// Fence, on, stops every environment that holds an invocation now (runs
// it, or starts for it), whose invocations end as when an environment
// dies, and returns how many; the others are kept (idle, or starting with
// none: provisioned). Until Fence(false) it runs no invocation: no
// environment takes one (Run answers the throttle of a node cut off), and
// one that started for one is stopped as it is counted. A node cut off
// from its cluster calls it before the others may take its share over,
// and a node leaving it before it says so.
func (m *Manager) Fence(on bool) int {
	m.mu.Lock()
	m.fenced.Store(on)
	if !on {
		m.mu.Unlock()
		return 0
	}
	envs := make([]*Sandbox, 0, len(m.envs))
	for s := range m.envs {
		envs = append(envs, s)
	}
	m.mu.Unlock()
	n := 0
	for _, s := range envs {
		s.mu.Lock()
		holds := s.life.phase != dead && (s.life.cur != nil || s.life.next != nil)
		s.mu.Unlock()
		if holds {
			s.stop()
			n++
		}
	}
	return n
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
	m.closeSpares()
	m.provisioning.Wait()
	return nil
}

// Idle returns how many environments are alive and waiting for an
// invocation.
func (m *Manager) Idle() int {
	m.mu.Lock()
	pools := m.livePoolsLocked()
	m.mu.Unlock()
	n := 0
	for _, p := range pools {
		p.mu.Lock()
		n += len(p.idle)
		p.mu.Unlock()
	}
	return n
}

// Environments returns how many environments are alive, in any phase.
func (m *Manager) Environments() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.envs)
}

// States returns how many environments alive are in each phase of their
// lifecycle: starting (in their init), idle, running (an invocation),
// answered (its response sent, its runtime not yet asking for the next).
func (m *Manager) States() map[string]int {
	m.mu.Lock()
	envs := make([]*Sandbox, 0, len(m.envs))
	for s := range m.envs {
		envs = append(envs, s)
	}
	m.mu.Unlock()
	states := map[string]int{"starting": 0, "idle": 0, "running": 0, "answered": 0}
	for _, s := range envs {
		s.mu.Lock()
		ph := s.life.phase
		s.mu.Unlock()
		if ph != dead {
			states[phaseNames[ph]]++
		}
	}
	return states
}

// startFailure is the result of an invocation whose environment could not be
// started, with the log lines AWS would show.
func (p *pool) startFailure(inv *lambada.Invocation, f lambada.FunctionFault, took time.Duration) *lambada.Result {
	f = lambada.Fault(f.Type, inv.RequestID, f.Message)
	report := lambada.Report{RequestID: inv.RequestID, MemorySize: p.cfg.MemorySize, Duration: took, Status: "error", ErrorType: f.Type}
	lines := []string{lambada.StartLine(inv.RequestID, p.cfg.Version), lambada.EndLine(inv.RequestID), report.Line(), f.FaultLines()}
	var log []byte
	src := lambada.NewLogSource(p.cfg, logStream(p.cfg.Version, time.Now())) // no environment: a stream of their own
	for _, line := range lines {
		p.m.Logs.FunctionLog(src, []byte(line))
		log = append(log, line...)
	}
	res := &lambada.Result{Payload: f.Payload(), FunctionError: lambada.UnhandledFunctionErr, ExecutedVersion: p.cfg.Version}
	if inv.LogType == lambada.LogTail {
		res.LogTail = lambada.Tail(log)
	}
	return res
}
