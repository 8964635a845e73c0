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

// SetReserved records function's reserved concurrency (nil: none). The
// control plane calls it after every change, and cmd once per function at
// start.
func (l *Limiter) SetReserved(function string, n *int) {
	l.mu.Lock()
	l.c.SetReserved(function, n)
	l.mu.Unlock()
}

// Admit takes a slot for one execution of f, or returns the
// TooManyRequestsException AWS answers. The returned func releases the
// slot; calling it more than once releases it once.
func (l *Limiter) Admit(f *lambada.Function) (func(), error) {
	l.mu.Lock()
	l.c.SetReserved(f.Name, f.ReservedConcurrency) // the record is authoritative
	slot, err := l.c.Admit(f.Name)
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
