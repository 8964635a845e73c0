package sandbox

import (
	"errors"
	"time"

	"github.com/lambada-dev/lambada"
)

// ProvisionedInitTimeout bounds the init of an environment started for
// provisioned concurrency (AWS allows such inits up to 130 seconds, or the
// function's timeout when that is longer: the limit here is their sum).
const ProvisionedInitTimeout = 130 * time.Second

// Init failure reasons a target reports.
const (
	// FailureInit: an environment failed its init.
	FailureInit = "FUNCTION_ERROR_INIT_FAILURE"
	// FailureMemory: the memory budget has no room for the environment.
	FailureMemory = "INSUFFICIENT_MEMORY"
)

// target is what the Manager keeps provisioned for one function version
// (guarded by Manager.mu).
type target struct {
	key      poolKey
	cfg      *lambada.SandboxConfig
	n        int
	envs     map[*Sandbox]bool // started for it, ready or not
	starting int
	crashes  int    // environments in a row that exited before serving an invocation
	failure  string // why an environment failed to start; no more are started then
}

// maxProvisionedCrashes is how many environments in a row may exit on their
// own before serving an invocation before a target reports FailureInit and
// stops replacing them.
const maxProvisionedCrashes = 3

// Provision keeps, for each entry of want, that many environments of its
// version initialised ahead of time, with AWS_LAMBDA_INITIALIZATION_TYPE
// provisioned-concurrency; they are never reaped nor evicted, and one that
// dies after its init is replaced. Every other version of function keeps
// none: their environments become ordinary ones, stopped now if idle.
// Environments start in the background; Ready reports their progress. An
// init failure stops further starts for that version until the next call.
func (m *Manager) Provision(function string, want []lambada.SandboxTarget) {
	var excess []*Sandbox
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return
	}
	m.startReaper()
	wanted := make(map[poolKey]bool, len(want))
	for _, w := range want {
		key := poolKey{function, w.Config.Version}
		wanted[key] = true
		if m.targets == nil {
			m.targets = make(map[poolKey]*target)
		}
		t := m.targets[key]
		if t == nil {
			t = &target{key: key, envs: make(map[*Sandbox]bool)}
			m.targets[key] = t
		}
		t.cfg, t.n, t.failure, t.crashes = w.Config, w.N, "", 0
		excess = append(excess, m.trimLocked(t)...)
		m.fillLocked(t)
	}
	for key, t := range m.targets {
		if key.function == function && !wanted[key] {
			delete(m.targets, key)
			t.n = 0
			excess = append(excess, m.trimLocked(t)...)
		}
	}
	stop := m.idleOfLocked(excess)
	m.mu.Unlock()
	for _, e := range stop {
		e.s.stopIdle(e.epoch)
	}
}

// Ready returns how many provisioned environments of version of function
// are initialised and alive, and why one failed to start, if one did.
func (m *Manager) Ready(function, version string) (int, string) {
	m.mu.Lock()
	t := m.targets[poolKey{function, version}]
	if t == nil {
		m.mu.Unlock()
		return 0, ""
	}
	envs := make([]*Sandbox, 0, len(t.envs))
	for s := range t.envs {
		envs = append(envs, s)
	}
	failure := t.failure
	m.mu.Unlock()
	ready := 0
	for _, s := range envs {
		if s.ready() {
			ready++
		}
	}
	return ready, failure
}

// ReadyAll returns how many provisioned environments of each version with
// provisioned concurrency are ready, by lambada.VersionID.
func (m *Manager) ReadyAll() map[string]int {
	m.mu.Lock()
	keys := make([]poolKey, 0, len(m.targets))
	for k := range m.targets {
		keys = append(keys, k)
	}
	m.mu.Unlock()
	out := make(map[string]int, len(keys))
	for _, k := range keys {
		if n, _ := m.Ready(k.function, k.version); n > 0 {
			out[lambada.VersionID(k.function, k.version)] = n
		}
	}
	return out
}

// wantsLocked reports whether t is current and short of environments.
func (m *Manager) wantsLocked(t *target) bool {
	return m.targets[t.key] == t && !m.closed && len(t.envs) < t.n
}

// fillLocked starts, in the background, the environments t is short of.
func (m *Manager) fillLocked(t *target) {
	if t.failure != "" || m.closed || m.targets[t.key] != t {
		return
	}
	for range t.n - len(t.envs) - t.starting {
		t.starting++
		m.provisioning.Add(1)
		go m.provisionOne(t, t.cfg)
	}
}

// crashedLocked counts an environment of t that exited on its own before
// serving an invocation, and replaces it unless too many did in a row.
func (m *Manager) crashedLocked(t *target) {
	if t.crashes++; t.crashes >= maxProvisionedCrashes {
		t.failure = FailureInit
		return
	}
	m.fillLocked(t)
}

// provisionOne starts one environment of cfg for t and hands it to its pool.
func (m *Manager) provisionOne(t *target, cfg *lambada.SandboxConfig) {
	defer m.provisioning.Done()
	p, err := m.pool(cfg)
	if err == nil {
		_, err = p.start(nil, t) // decrements t.starting; the environment pools itself once ready
	} else {
		m.mu.Lock()
		t.starting--
		m.mu.Unlock()
	}
	m.mu.Lock()
	if err != nil && m.targets[t.key] == t && !m.closed {
		var se *StartError
		switch {
		case errors.As(err, &se):
			t.failure = FailureInit
		case lambada.ErrorCode(err) == lambada.ETHROTTLED:
			t.failure = FailureMemory
		default:
			t.failure = err.Error()
		}
		if logger := m.Logger; logger != nil {
			logger.Warn("sandbox: provisioned environment not started", "function", t.key.function, "version", t.key.version, "err", err)
		}
	}
	m.mu.Unlock()
}

// trimLocked demotes the environments t has beyond t.n to ordinary ones and
// returns them.
func (m *Manager) trimLocked(t *target) []*Sandbox {
	var excess []*Sandbox
	for s := range t.envs {
		if len(t.envs) <= t.n {
			break
		}
		delete(t.envs, s)
		s.provisioned.Store(false)
		excess = append(excess, s)
	}
	return excess
}

// idleOfLocked takes the idle ones of envs out of their pools and returns
// their entries.
func (m *Manager) idleOfLocked(envs []*Sandbox) []idleEnv {
	var idle []idleEnv
	for _, s := range envs {
		st := m.envs[s]
		if st == nil {
			continue
		}
		st.pool.mu.Lock()
		if e, ok := st.pool.unidleLocked(s); ok {
			idle = append(idle, e)
		}
		st.pool.mu.Unlock()
	}
	return idle
}

// forgetProvisionedLocked drops s, which exited, from its target, and
// replaces it, unless it failed its init or too many exited in a row
// before serving an invocation.
func (m *Manager) forgetProvisionedLocked(s *Sandbox, exit exitInfo) {
	if !s.provisioned.Load() {
		return
	}
	t := m.targets[poolKey{s.cfg.Key(), s.cfg.Version}]
	if t == nil || !t.envs[s] {
		return
	}
	delete(t.envs, s)
	switch {
	case exit.stopped:
		m.fillLocked(t)
	case !exit.initDone:
		t.failure = FailureInit
	case !exit.served:
		m.crashedLocked(t)
	default:
		t.crashes = 0
		m.fillLocked(t)
	}
}
