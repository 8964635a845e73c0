package sandbox

import (
	"context"
	"sync"
	"time"

	"github.com/lambada-dev/lambada"
	"github.com/lambada-dev/lambada/internal/every"
)

// defaultEstimateMB is what a new environment of a function never seen
// before is expected to use, until it is measured (capped by MemorySize).
// It is what a small Go function measures (2-8 MB here): a burst of a
// thousand first starts must fit in the default budget (at 64 MB each, 699
// of a 1000-wide burst were throttled on this 24 GB machine while the
// environments used well under 1 GB), and the first measurement replaces it.
const defaultEstimateMB = 8

func (m *Manager) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

func (m *Manager) keepWarm() time.Duration {
	if m.KeepWarm > 0 {
		return m.KeepWarm
	}
	return DefaultKeepWarm
}

// estimate is what a new environment of p is expected to use: the most its
// environments were seen to use, else a default, never more than its
// MemorySize.
func (p *pool) estimate() int {
	p.mu.Lock()
	est := p.peakMB
	p.mu.Unlock()
	if est == 0 {
		est = defaultEstimateMB
	}
	if p.cfg.MemorySize > 0 && est > p.cfg.MemorySize {
		est = p.cfg.MemorySize
	}
	return est
}

// makeRoom reserves room in the budget for a new environment of p, stopping
// idle environments least recently used first when it would not fit, and
// returns the reservation. With no idle environment left to stop it refuses
// with TooManyRequestsException.
func (m *Manager) makeRoom(p *pool) (int, error) {
	est := p.estimate()
	m.mu.Lock()
	var evicted []idleEnv
	for m.MemoryMB > 0 && m.usedMB+est > m.MemoryMB {
		e, ok := m.oldestIdleLocked()
		if !ok {
			m.mu.Unlock()
			for _, e := range evicted {
				e.s.stopIdle(e.epoch)
			}
			return 0, lambada.Throttled(lambada.ReasonConcurrentLimit)
		}
		// Counted out now; remove, when it is reaped, finds nothing to subtract.
		m.usedMB -= m.envs[e.s].memMB
		m.envs[e.s].memMB = 0
		evicted = append(evicted, e)
	}
	m.usedMB += est
	m.mu.Unlock()
	for _, e := range evicted {
		e.s.stopIdle(e.epoch)
	}
	return est, nil
}

// oldestIdleLocked takes the least recently used idle environment of any
// pool out of its pool and returns its entry, or false. m.mu is held.
func (m *Manager) oldestIdleLocked() (idleEnv, bool) {
	var oldest idleEnv
	var from *pool
	for _, p := range m.livePoolsLocked() {
		p.mu.Lock()
		for _, e := range p.idle { // least recently used first
			if e.s.provisioned.Load() {
				continue // provisioned concurrency is never evicted
			}
			if from == nil || e.since.Before(oldest.since) {
				oldest, from = e, p
			}
			break
		}
		p.mu.Unlock()
	}
	if from == nil {
		return idleEnv{}, false
	}
	from.mu.Lock()
	e, taken := from.unidleLocked(oldest.s)
	from.mu.Unlock()
	if !taken { // taken for an invocation meanwhile: look again
		return m.oldestIdleLocked()
	}
	return e, true
}

// livePoolsLocked returns every pool that has environments, current or
// retired. m.mu is held.
func (m *Manager) livePoolsLocked() []*pool {
	seen := make(map[*pool]bool, len(m.pools))
	var pools []*pool
	for _, st := range m.envs {
		if !seen[st.pool] {
			seen[st.pool] = true
			pools = append(pools, st.pool)
		}
	}
	return pools
}

func (m *Manager) unreserve(mb int) {
	m.mu.Lock()
	m.usedMB -= mb
	m.mu.Unlock()
}

// noteMemory counts what s was measured to use (its peak so far) instead of
// its estimate.
func (m *Manager) noteMemory(s *Sandbox) {
	mb := s.mem.LastPeak()
	if mb == 0 {
		return
	}
	m.mu.Lock()
	st, ok := m.envs[s]
	if ok && st.memMB != 0 {
		m.usedMB += mb - st.memMB
		st.memMB = mb
	}
	m.mu.Unlock()
	if ok {
		st.pool.mu.Lock()
		st.pool.peakMB = max(st.pool.peakMB, mb)
		st.pool.mu.Unlock()
	}
}

// UsedMB returns the memory the live environments count against the budget.
func (m *Manager) UsedMB() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.usedMB
}

// reap stops the environments idle since before now-KeepWarm, but those of
// provisioned concurrency, and forgets pools left with no environment.
func (m *Manager) reap(now time.Time) {
	cutoff := now.Add(-m.keepWarm())
	m.mu.Lock()
	pools := m.livePoolsLocked()
	live := make(map[*pool]bool, len(pools))
	for _, p := range pools {
		live[p] = true
	}
	for key, p := range m.pools {
		if !live[p] {
			delete(m.pools, key)
		}
	}
	m.mu.Unlock()
	for _, p := range pools {
		p.mu.Lock()
		var expired []idleEnv
		kept := p.idle[:0]
		for _, e := range p.idle {
			if e.since.Before(cutoff) && !e.s.provisioned.Load() {
				expired = append(expired, e)
			} else {
				kept = append(kept, e)
			}
		}
		clear(p.idle[len(kept):])
		before := len(p.idle)
		p.idle = kept
		p.idleChangedLocked(before)
		p.mu.Unlock()
		for _, e := range expired {
			e.s.stopIdle(e.epoch)
		}
	}
}

// reaper is the Manager's goroutine that reaps idle environments.
type reaper struct {
	once sync.Once
	end  func() // stops the reaping goroutine; nil until it starts
}

// startReaper starts the reaper on first use. m.mu is held.
func (m *Manager) startReaper() {
	m.reaper.once.Do(func() {
		period := min(m.keepWarm()/4, time.Minute)
		m.reaper.end = every.Start(context.Background(), period, func(context.Context) { m.reap(m.now()) })
	})
}

func (r *reaper) stop() {
	if r.end != nil {
		r.end()
	}
}
