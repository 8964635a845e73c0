package invoke

import (
	"sync"
	"sync/atomic"

	"github.com/lambada-dev/lambada"
)

// Limiter admits synchronous invocations against the account's concurrency
// limit and the functions' reservations, exactly, under any interleaving.
// It is safe for concurrent use.
type Limiter struct {
	mu sync.Mutex
	c  *lambada.Concurrency
}

// NewLimiter admits up to limit executions at once.
func NewLimiter(limit int) *Limiter {
	return &Limiter{c: lambada.NewConcurrency(limit)}
}

// SetLimits records f's reserved and provisioned concurrency; a Function
// with only a Name has neither.
func (l *Limiter) SetLimits(f *lambada.Function) {
	versions := f.ProvisionedVersions()
	l.mu.Lock()
	l.setLocked(f, versions)
	l.mu.Unlock()
}

// setLocked records f's limits, its provisioned versions computed by the
// caller outside the lock; l.mu is held.
func (l *Limiter) setLocked(f *lambada.Function, versions map[string]int) {
	l.c.SetReserved(f.Name, f.ReservedConcurrency)
	l.c.SetProvisioned(f.Name, versions)
}

// Admit takes a slot for one execution of version of f, or returns the
// TooManyRequestsException AWS answers. The returned func releases the
// slot; calling it more than once releases it once.
func (l *Limiter) Admit(f *lambada.Function, version string) (func(), error) {
	versions := f.ProvisionedVersions() // nil, without allocating, for most functions
	l.mu.Lock()
	l.setLocked(f, versions) // the record is authoritative
	slot, err := l.c.Admit(f.Name, version)
	l.mu.Unlock()
	if err != nil {
		return nil, err
	}
	var once atomic.Bool
	return func() {
		if once.CompareAndSwap(false, true) {
			l.mu.Lock()
			l.c.Release(slot)
			l.mu.Unlock()
		}
	}, nil
}

// Running returns how many executions of function hold a slot now.
func (l *Limiter) Running(function string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.c.Running(function)
}
