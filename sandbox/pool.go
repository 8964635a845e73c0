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
	closed bool
	wg     sync.WaitGroup // environments being closed in the background
}

type poolKey struct{ function, version string }

// pool holds the environments of one function version at one generation of
// its configuration.
type pool struct {
	m       *Manager
	cfg     *Config
	mu      sync.Mutex
	idle    []*Sandbox // most recently used last
	all     map[*Sandbox]struct{}
	retired bool
}

// Run runs inv on an environment for cfg and returns its result. A
// configuration whose Generation is newer than the pool's replaces the pool:
// new invocations start new environments, in-flight ones finish on the old
// code, and old environments are stopped as they become idle.
func (m *Manager) Run(ctx context.Context, cfg *Config, inv *lambada.Invocation) (*lambada.Result, error) {
	p, err := m.pool(cfg)
	if err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		s := p.take()
		if s == nil {
			t0 := time.Now()
			s, err = p.start()
			var se *StartError
			if errors.As(err, &se) {
				return p.startFailure(inv, se.Fault, time.Since(t0)), nil
			} else if err != nil {
				return nil, err
			}
		}
		res, err := s.Invoke(ctx, inv)
		if errors.Is(err, errGone) && attempt < 3 {
			continue // it died while idle; take another
		}
		return res, err
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
		p = &pool{m: m, cfg: cfg, all: make(map[*Sandbox]struct{})}
		m.pools[key] = p
	}
	// An invocation that read an older configuration than the pool's runs on
	// the newer one, as if it had arrived a moment later.
	return p, nil
}

func (p *pool) start() (*Sandbox, error) {
	logger := p.m.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s, err := start(p.cfg, p.m.Logs, logger, p.put, p.remove)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	p.all[s] = struct{}{}
	p.mu.Unlock()
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
		return s
	}
	return nil
}

// put returns an environment whose runtime waits for work.
func (p *pool) put(s *Sandbox) {
	p.mu.Lock()
	if p.retired {
		p.mu.Unlock()
		p.m.closeLater(s)
		return
	}
	p.idle = append(p.idle, s)
	p.mu.Unlock()
}

// remove forgets an environment whose process has exited.
func (p *pool) remove(s *Sandbox) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.all, s)
	for i, t := range p.idle {
		if t == s {
			p.idle = append(p.idle[:i], p.idle[i+1:]...)
			break
		}
	}
}

// retire stops the idle environments; busy ones stop when they come back.
func (p *pool) retire() {
	p.mu.Lock()
	p.retired = true
	idle := p.idle
	p.idle = nil
	p.mu.Unlock()
	for _, s := range idle {
		p.m.closeLater(s)
	}
}

func (m *Manager) closeLater(s *Sandbox) {
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		s.Close()
	}()
}

// Close stops every environment, busy or idle, and waits for them.
func (m *Manager) Close() error {
	m.mu.Lock()
	m.closed = true
	pools := m.pools
	m.pools = nil
	m.mu.Unlock()
	for _, p := range pools {
		p.retire()
		p.mu.Lock()
		for s := range p.all {
			m.closeLater(s)
		}
		p.mu.Unlock()
	}
	m.wg.Wait()
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
