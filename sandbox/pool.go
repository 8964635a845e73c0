package sandbox

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/lambada-dev/lambada"
)

// Manager keeps one pool of execution environments per function version and
// runs invocations on them: a warm idle environment when there is one, a new
// one otherwise. Cold starts of different invocations run in parallel.
type Manager struct {
	Logs   LogSink      // required
	Logger *slog.Logger // defaults to discarding

	mu     sync.Mutex
	pools  map[poolKey]*pool
	envs   map[*Sandbox]struct{} // every live environment, of every pool
	closed bool
}

type poolKey struct{ function, version string }

// pool holds the environments of one function version at one generation of
// its configuration.
type pool struct {
	m       *Manager
	cfg     *Config
	mu      sync.Mutex
	idle    []*Sandbox // most recently used last
	retired bool
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
			s, err = p.start()
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

// start starts a new environment, reserved for the caller.
func (p *pool) start() (*Sandbox, error) {
	m := p.m
	logger := m.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s, err := start(p.cfg, m.Logs, logger, p.put, p.remove)
	if err != nil {
		return nil, err
	}
	// Starts run in parallel; registering afterwards still lets Close see
	// every environment, since one started after Close is closed here.
	m.mu.Lock()
	closed := m.closed
	if !closed {
		if m.envs == nil {
			m.envs = make(map[*Sandbox]struct{})
		}
		m.envs[s] = struct{}{}
	}
	m.mu.Unlock()
	if closed {
		s.Close()
		return nil, errors.New("sandbox: manager is closed")
	}
	return s, nil
}

// take pops the most recently used idle environment, or returns nil.
func (p *pool) take() *Sandbox {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := len(p.idle); n > 0 {
		s := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		s.inPool = false
		return s
	}
	return nil
}

// put returns an environment whose runtime waits for work. Putting one that
// is already idle (its runtime asked again) or dead changes nothing.
func (p *pool) put(s *Sandbox) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.retired:
		s.stop()
	case s.inPool || s.isDead():
	default:
		s.inPool = true
		p.idle = append(p.idle, s)
	}
}

// remove forgets an environment whose process has exited.
func (p *pool) remove(s *Sandbox) {
	p.mu.Lock()
	for i, t := range p.idle {
		if t == s {
			p.idle = append(p.idle[:i], p.idle[i+1:]...)
			s.inPool = false
			break
		}
	}
	p.mu.Unlock()
	p.m.mu.Lock()
	delete(p.m.envs, s)
	p.m.mu.Unlock()
}

// retire stops the idle environments; busy ones stop when they come back.
func (p *pool) retire() {
	p.mu.Lock()
	p.retired = true
	idle := p.idle
	p.idle = nil
	p.mu.Unlock()
	for _, s := range idle {
		s.stop()
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
	for _, p := range pools {
		p.retire()
	}
	for _, s := range envs {
		s.Close()
	}
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
