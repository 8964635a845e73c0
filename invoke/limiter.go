package invoke

import (
	"sync"

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
// TooManyRequestsException AWS answers.
func (l *Limiter) Admit(f *lambada.Function, version string) (lambada.Slot, error) {
	versions := f.ProvisionedVersions() // nil, without allocating, for most functions
	l.mu.Lock()
	defer l.mu.Unlock()
	l.setLocked(f, versions) // the record is authoritative
	return l.c.Admit(f.Name, version)
}

// Free releases the slot inv was admitted with: its execution environment
// is done with it. The sandbox calls it once per invocation it ran.
func (l *Limiter) Free(inv *lambada.Invocation) {
	l.mu.Lock()
	l.c.Release(inv.Slot)
	l.mu.Unlock()
}

// Running returns how many executions of function hold a slot now.
func (l *Limiter) Running(function string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.c.Running(function)
}
