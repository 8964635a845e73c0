package invoke

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

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

// Each account has a limit of its own: one account's executions never
// throttle another's, and a slot is released in the account it was taken
// in.
func TestLimiter_Accounts(t *testing.T) {
	l := NewLimiter(1)
	own, other := &lambada.Function{Name: "fn"}, &lambada.Function{Name: "fn", Account: "111111111111"}
	ownSlot, err := l.Admit(own, lambada.LatestVersion)
	if err != nil {
		t.Fatal(err)
	}
	otherSlot, err := l.Admit(other, lambada.LatestVersion)
	if err != nil {
		t.Fatalf("the other account, its own limit untouched: %v", err)
	}
	if _, err := l.Admit(other, lambada.LatestVersion); lambada.ErrorCode(err) != lambada.ETHROTTLED {
		t.Fatalf("the other account over its limit: %v", err)
	}
	if l.Running("fn") != 1 || l.Running("111111111111/fn") != 1 {
		t.Errorf("running: %d and %d", l.Running("fn"), l.Running("111111111111/fn"))
	}
	l.Free(&lambada.Invocation{Slot: otherSlot})
	if l.Running("111111111111/fn") != 0 || l.Running("fn") != 1 {
		t.Errorf("after the other's release: %d and %d", l.Running("fn"), l.Running("111111111111/fn"))
	}
	if _, err := l.Admit(other, lambada.LatestVersion); err != nil {
		t.Errorf("the other account after its release: %v", err)
	}
	l.Free(&lambada.Invocation{Slot: ownSlot})
}

// In a cluster the limiter admits this node's share of the limit, and
// nothing while its lease has lapsed (it keeps the environments it had); a lapsed lease leaves the share as
// it was, so that the node tells the others it is over its share only when
// its executions are (a node joined), not whenever its lease lapses (each
// would then wait for the other).
func TestLimiter_Members(t *testing.T) {
	l := NewLimiter(90)
	fn := &lambada.Function{Name: "fn"}
	three := []string{"a", "b", "c"}
	// Environments: none before the node holds a lease, then its share.
	l.SetMembers(lambada.NewMembers("a", three, time.Time{}))
	if got := l.Share(90, "fn 1"); got != 0 {
		t.Errorf("never leased, a keeps %d environments of 90", got)
	}
	l.SetMembers(lambada.NewMembers("a", three, time.Now().Add(time.Hour)))
	if got := l.Share(90, "fn 1"); got != 30 {
		t.Errorf("leased, a keeps %d environments of 90, want 30", got)
	}
	var slots []lambada.Slot
	for range 30 {
		slot, err := l.Admit(fn, lambada.LatestVersion)
		if err != nil {
			t.Fatalf("within a's share of 30: %v", err)
		}
		slots = append(slots, slot)
	}
	if _, err := l.Admit(fn, lambada.LatestVersion); lambada.ErrorCode(err) != lambada.ETHROTTLED {
		t.Fatalf("over a's share: %v", err)
	}
	l.Free(&lambada.Invocation{Slot: slots[0]})
	l.SetMembers(lambada.NewMembers("a", three, time.Now().Add(-time.Second)))
	if _, err := l.Admit(fn, lambada.LatestVersion); lambada.ErrorCode(err) != lambada.ETHROTTLED {
		t.Fatalf("its lease lapsed, 29 of 30 running: %v", err)
	}
	if l.Over() {
		t.Error("its lease lapsed, a counts itself over its share of 30 with 29 running")
	}
	l.SetMembers(lambada.NewMembers("a", []string{"a"}, time.Time{}))
	if got := l.Share(90, "fn 1"); got != 30 {
		t.Errorf("cut off, a alone in its view keeps %d environments of 90, want the 30 it had", got)
	}
	l.SetMembers(lambada.NewMembers("a", append(three, "d"), time.Now().Add(time.Hour)))
	if !l.Over() {
		t.Error("a fourth node joined: a does not count 29 running over its share of 23")
	}
	for _, s := range slots[1:] {
		l.Free(&lambada.Invocation{Slot: s})
	}
	if l.Over() {
		t.Error("nothing running: a counts itself over its share")
	}
}

// In a cluster a function's reservation and its versions' provisioned
// concurrency are shared so that the nodes together admit no more than the
// reservation, however the shares' remainders fall; and a new view shares
// them out again at once, so that a node whose share of a reservation
// shrank under running executions counts itself over it.
func TestLimiter_MembersShareFunctions(t *testing.T) {
	nodes := []string{"a", "b", "c"}
	later := time.Now().Add(time.Hour)
	for i := range 8 {
		reserved := 2
		fn := &lambada.Function{Name: fmt.Sprint("fn", i), ReservedConcurrency: &reserved,
			Versions: []lambada.FunctionConfig{{Version: "1"}}}
		fn.PutProvisioned(lambada.ProvisionedConfig{Qualifier: "1", Requested: 2})
		if got := fn.ProvisionedVersions()["1"]; got != 2 {
			t.Fatalf("%s provisions %d of version 1", fn.Name, got)
		}
		total := 0
		for _, self := range nodes {
			l := NewLimiter(100)
			l.SetMembers(lambada.NewMembers(self, nodes, later))
			l.SetLimits(fn)
			for _, v := range []string{"1", lambada.LatestVersion} {
				for {
					if _, err := l.Admit(fn, v); err != nil {
						break
					}
					total++
				}
			}
		}
		if total != reserved {
			t.Errorf("%s: the nodes admitted %d together, its reservation is %d", fn.Name, total, reserved)
		}
	}

	reserved := 6
	fn := &lambada.Function{Name: "res", ReservedConcurrency: &reserved}
	l := NewLimiter(100)
	l.SetMembers(lambada.NewMembers("a", nodes[:2], later))
	l.SetLimits(fn)
	for range 3 {
		if _, err := l.Admit(fn, lambada.LatestVersion); err != nil {
			t.Fatalf("within a's share of 3 of the reservation: %v", err)
		}
	}
	if l.Over() {
		t.Fatal("3 running within a's share of 3: over")
	}
	l.SetMembers(lambada.NewMembers("a", nodes, later))
	if !l.Over() {
		t.Error("a third node joined: a does not count 3 running over its share of 2 of the reservation")
	}
}
