package invoke

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/lambada-dev/lambada"
)

// Many goroutines admit and release at random: the executions holding a
// slot never exceed a reservation or the shared pool, every refusal is
// justified, and when all is done no slot is left.
func TestLimiter_Hammer(t *testing.T) {
	const limit, reserved = 105, 5
	l := NewLimiter(limit)
	n := reserved
	fns := []*lambada.Function{{Name: "reserved", ReservedConcurrency: &n}, {Name: "a"}, {Name: "b"}}
	var held [3]atomic.Int64
	var shared atomic.Int64 // held by a and b together
	var wg sync.WaitGroup
	for g := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 1))
			var mine []func()
			for range 2000 {
				if len(mine) > 0 && r.IntN(2) == 0 {
					i := r.IntN(len(mine))
					mine[i]()
					mine = append(mine[:i], mine[i+1:]...)
					continue
				}
				k := r.IntN(3)
				slot, err := l.Admit(fns[k], lambada.LatestVersion)
				if err != nil {
					if lambada.ErrorCode(err) != lambada.ETHROTTLED {
						t.Errorf("admit: %v", err)
					}
					continue
				}
				h := held[k].Add(1)
				if k == 0 && h > reserved {
					t.Errorf("%d executions of the reserved function", h)
				}
				if k > 0 {
					if s := shared.Add(1); s > limit-reserved {
						t.Errorf("%d executions in the shared pool of %d", s, limit-reserved)
					}
				}
				mine = append(mine, func() {
					held[k].Add(-1)
					if k > 0 {
						shared.Add(-1)
					}
					l.Free(&lambada.Invocation{Slot: slot})
				})
			}
			for _, rel := range mine {
				rel()
			}
		}()
	}
	wg.Wait()
	for _, f := range fns {
		if n := l.Running(f.Name); n != 0 {
			t.Errorf("%s: %d slots leaked", f.Name, n)
		}
	}
	// The pool is whole again.
	for range limit - reserved {
		if _, err := l.Admit(fns[1], lambada.LatestVersion); err != nil {
			t.Fatalf("after the hammer: %v", err)
		}
	}
}
