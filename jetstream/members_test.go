package jetstream

import (
	"context"
	"encoding/json"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/lambada-dev/lambada/internal/poll"
)

// Nodes hear each other's heartbeats: a node that closes leaves at once,
// one that stops beating leaves after the timeout, and a node that hears
// from too few of the others to make a majority loses its lease after
// half of it, before the others would take its share over.
func TestMembers(t *testing.T) {
	n := MustOpen(t, t.TempDir())
	ctx := context.Background()
	var aOver atomic.Bool
	open := func(name string, ready int) *Members {
		m := &Members{Self: name, Every: 50 * time.Millisecond, Timeout: 600 * time.Millisecond, Logger: testLogger(t),
			Beat: func() Heartbeat {
				return Heartbeat{Ready: map[string]int{"fn 1": ready}, Over: name == "a" && aOver.Load()}
			}}
		if err := n.OpenMembers(ctx, m); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { m.Close() })
		return m
	}
	a, b, c, d := open("a", 1), open("b", 2), open("c", 4), open("d", 8)
	all := []string{"a", "b", "c", "d"}
	poll.Until(t, 10*time.Second, "every node sees the four", func() bool {
		return slices.Equal(a.Live(), all) && slices.Equal(b.Live(), all) && slices.Equal(c.Live(), all) && slices.Equal(d.Live(), all)
	})
	if got := a.Ready("fn 1"); got != 14 {
		t.Errorf("a hears %d ready environments from the others, want 14", got)
	}
	share := func(m *Members) int { now := time.Now(); return m.View(now).Share(120, "", now) }
	poll.Until(t, 10*time.Second, "a's share of 120 among four is 30", func() bool { return share(a) == 30 })
	// A node that joins admits nothing while another runs more than its
	// new, smaller, share.
	aOver.Store(true)
	e := open("e", 0)
	poll.Until(t, 10*time.Second, "a is heard over its share", func() bool {
		e.mu.Lock()
		defer e.mu.Unlock()
		return e.seen["a"].beat.Over
	})
	if got := share(e); got != 0 {
		t.Errorf("e has a share of %d while a is over its own", got)
	}
	aOver.Store(false)
	poll.Until(t, 10*time.Second, "e's share of 120 among five is 24", func() bool { return share(e) == 24 })
	e.Close()
	// d closes: it is gone for the others at once, and no longer counts.
	d.Close()
	poll.Until(t, 10*time.Second, "the others see d gone", func() bool {
		return slices.Equal(a.Live(), all[:3]) && slices.Equal(b.Live(), all[:3]) && slices.Equal(c.Live(), all[:3])
	})
	// c stops beating without a word: it is gone after the timeout, and a
	// and b, two of three, keep their leases.
	c.cancel()
	<-c.done
	poll.Until(t, 10*time.Second, "a sees c gone", func() bool { return slices.Equal(a.Live(), all[:2]) })
	poll.Until(t, 10*time.Second, "a's share of 120 between two of three is 60", func() bool { return share(a) == 60 })
	// b stops too: a, one of three, loses its lease within half the
	// timeout, while it still counts b alive.
	b.cancel()
	<-b.done
	stopped := time.Now()
	poll.Until(t, 10*time.Second, "a's lease lapses", func() bool { return share(a) == 0 })
	if !slices.Equal(a.Live(), all[:2]) {
		t.Errorf("a lost its lease only once b was gone (%v), not half a timeout before", a.Live())
	}
	if since := time.Since(stopped); since < a.Timeout/2-a.Every-10*time.Millisecond {
		t.Errorf("a's lease lapsed %v after b's last heartbeat, before half the timeout", since)
	}
}

// A node beats at once when a node it heard is gone, not at its next
// beat: the others count the nodes it hears, so a dead node's share comes
// back within the timeout. Here the next beat is an hour away, and a fake
// node x beats once.
func TestMembers_BeatsWhenANodeIsGone(t *testing.T) {
	n := MustOpen(t, t.TempDir())
	ctx := context.Background()
	beats := make(chan *nats.Msg, 16)
	sub, err := n.conn.ChanSubscribe(membersSubject("a"), beats)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sub.Unsubscribe() })
	a := &Members{Self: "a", Every: time.Hour, Timeout: 300 * time.Millisecond, Logger: testLogger(t)}
	if err := n.OpenMembers(ctx, a); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	next := func(what string) []string {
		t.Helper()
		var msg *nats.Msg
		poll.Until(t, 10*time.Second, "a heartbeat from a "+what, func() bool {
			select {
			case msg = <-beats:
				return true
			default:
				return false
			}
		})
		var hb Heartbeat
		if err := json.Unmarshal(msg.Data, &hb); err != nil {
			t.Fatal(err)
		}
		return hb.Sees
	}
	if got := next("its first"); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("a's first heartbeat sees %v, want [a]", got)
	}
	x, _ := json.Marshal(Heartbeat{Sees: []string{"a", "x"}})
	if err := n.conn.Publish(membersSubject("x"), x); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 10*time.Second, "a hears x", func() bool { return slices.Contains(a.Live(), "x") })
	if got := next("once x's heartbeat got too old"); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("a's heartbeat once x's got too old sees %v, want [a]", got)
	}
}
