package jetstream

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/lambada-dev/lambada"
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
	share := func(m *Members) int { // what it may admit of 120 now
		now := time.Now()
		v := m.View(now)
		if !v.Leased(now) {
			return 0
		}
		return v.Share(120, "")
	}
	poll.Until(t, 10*time.Second, "a's share of 120 among four is 30", func() bool { return share(a) == 30 })
	// A node that joins admits nothing while another runs more than its
	// new, smaller, share (the nodes it runs over are those that joined).
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
	// The others were counted before: they keep admitting their shares.
	poll.Until(t, 10*time.Second, "b admits its share of 120 among five, 24, while a is over its own", func() bool { return share(b) == 24 })
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

// mustHearBeats returns the heartbeats node sends from now on, until the
// test ends.
func mustHearBeats(t *testing.T, n *Node, node string) chan *nats.Msg {
	t.Helper()
	beats := make(chan *nats.Msg, 1024)
	sub, err := n.conn.ChanSubscribe(membersSubject(node), beats)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sub.Unsubscribe() })
	return beats
}

// A node beats at once when a node it heard is gone, not at its next
// beat, and before it takes the new view in (Changed may take a while):
// the others count the nodes it hears, so a dead node's share comes back
// within the timeout. Here the next beat is an hour away, and a fake node
// x beats once.
func TestMembers_BeatsWhenANodeIsGone(t *testing.T) {
	n := MustOpen(t, t.TempDir())
	ctx := context.Background()
	beats := mustHearBeats(t, n, "a")
	var heardX atomic.Bool
	var withoutX atomic.Pointer[time.Time] // when a took a view without x in, once it heard x
	a := &Members{Self: "a", Every: time.Hour, Timeout: 300 * time.Millisecond, Logger: testLogger(t),
		Changed: func(v *lambada.Members) {
			switch has := slices.Contains(v.Nodes, "x"); {
			case has:
				heardX.Store(true)
			case heardX.Load():
				now := time.Now()
				withoutX.CompareAndSwap(nil, &now)
			}
		}}
	if err := n.OpenMembers(ctx, a); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	var sent time.Time // of the last heartbeat next read
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
		sent = a.sentAt(hb.Sent)
		return slices.Sorted(maps.Keys(hb.Sees))
	}
	if got := next("its first"); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("a's first heartbeat sees %v, want [a]", got)
	}
	x, _ := json.Marshal(Heartbeat{Sees: map[string]int64{"a": a.sent(time.Now()), "x": 1}})
	if err := n.conn.Publish(membersSubject("x"), x); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 10*time.Second, "a hears x", func() bool { return slices.Contains(a.Live(), "x") })
	if got := next("once x's heartbeat got too old"); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("a's heartbeat once x's got too old sees %v, want [a]", got)
	}
	poll.Until(t, 10*time.Second, "a's view without x", func() bool { return withoutX.Load() != nil })
	if changed := *withoutX.Load(); sent.After(changed) {
		t.Errorf("a sent the heartbeat without x %v after it took the view without x in", sent.Sub(changed))
	}
}

// A node holds its lease only while every node in its view hears it now:
// one heard of only through another (it may not hear this node yet, and
// then runs the share it had without it) holds it back, and so does a
// heartbeat whose news of this node is old, however late it arrived (sent
// before the other lost this node, it says nothing of the other now). A
// node that left holds nothing back. Here x and y are fake nodes beating
// from the test.
func TestMembers_LeaseNeedsEveryNodeNow(t *testing.T) {
	n := MustOpen(t, t.TempDir())
	ctx := context.Background()
	a := &Members{Self: "a", Every: 50 * time.Millisecond, Timeout: 600 * time.Millisecond, Logger: testLogger(t)}
	if err := n.OpenMembers(ctx, a); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	fresh := func(now time.Time) time.Time { return now }
	beat := func(name string, echo func(now time.Time) time.Time, sees ...string) {
		now := time.Now()
		hb := Heartbeat{Sent: now.UnixNano(), Sees: map[string]int64{name: now.UnixNano(), "a": a.sent(echo(now))}}
		for _, s := range sees {
			hb.Sees[s] = now.UnixNano()
		}
		b, _ := json.Marshal(hb)
		if err := n.conn.Publish(membersSubject(name), b); err != nil {
			t.Fatal(err)
		}
	}
	// share is what a may admit of 90 now, once the fakes beat as told.
	share := func(beats func()) func() int {
		return func() int {
			beats() // heard by the next check, if not by this one
			now := time.Now()
			if v := a.View(now); v.Leased(now) {
				return v.Share(90, "")
			}
			return 0
		}
	}
	expect := func(what string, want int, beats func()) {
		t.Helper()
		s := share(beats)
		poll.Until(t, 10*time.Second, what, func() bool { return s() == want })
	}
	expect("a alone has all of 90", 90, func() {})
	// x hears y, which a has not heard: a's view has three nodes, and no
	// lease.
	xy := func() { beat("x", fresh, "y") }
	expect("a, hearing of y only through x, admits nothing", 0, xy)
	if v := a.View(time.Now()); !slices.Equal(v.Nodes, []string{"a", "x", "y"}) {
		t.Errorf("a's view %v, want [a x y]", v.Nodes)
	}
	both := func() { beat("x", fresh, "y"); beat("y", fresh, "x") }
	expect("a, hearing x and y, has 30 of 90", 30, both)
	// x's heartbeats tell news of a older than half a timeout and a beat,
	// y's are fresh: a, holding its lease, keeps it (most nodes count it;
	// x may have died).
	old := func(now time.Time) time.Time { return now.Add(-a.Timeout/2 - a.Every - 10*time.Millisecond) }
	stale := func() { beat("x", old, "y"); beat("y", fresh, "x") }
	heardAfter := func(at time.Time) func() bool {
		return func() bool {
			stale()
			a.mu.Lock()
			defer a.mu.Unlock()
			return a.seen["x"].at.After(at) && a.seen["y"].at.After(at)
		}
	}
	poll.Until(t, 10*time.Second, "a hears the old news", heardAfter(time.Now()))
	if got := share(stale)(); got != 30 {
		t.Errorf("a, its news at x too old but fresh at y, keeps %d of 90, want 30", got)
	}
	// Neither beats for a while: a's lease lapses. Their heartbeats come
	// back, x's with old news of a (sent before it gave a up, arriving
	// late): a takes no lease until every node it hears counts it now.
	poll.Until(t, 10*time.Second, "a's lease lapses", func() bool { now := time.Now(); return !a.View(now).Leased(now) })
	poll.Until(t, 10*time.Second, "a hears them again", heardAfter(time.Now()))
	if got := share(stale)(); got != 0 {
		t.Errorf("a, its lease lapsed and its news at x too old, has %d of 90", got)
	}
	expect("a, heard by both again, has 30 of 90", 30, both)
	// y leaves; x still lists it a moment: a keeps its lease.
	bye := nats.NewMsg(membersSubject("y"))
	bye.Header.Set(leaving, "1")
	if err := n.conn.PublishMsg(bye); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 10*time.Second, "a hears y leave", func() bool {
		a.mu.Lock()
		defer a.mu.Unlock()
		return !a.known["y"]
	})
	if got := share(func() {})(); got != 30 {
		t.Errorf("a, y gone and x still listing it, has %d of 90, want 30", got)
	}
	expect("a, y gone, has 45 of 90", 45, func() { beat("x", fresh) })
}

// A node over its share tells the nodes that joined its view since it
// last ran within its share to wait: not those it counted before, and
// again a node that was gone a while and came back (the others gave it
// up, and grew their shares). Here x is a fake node beating from the test.
func TestMembers_WaitListsTheNodesThatJoined(t *testing.T) {
	n := MustOpen(t, t.TempDir())
	ctx := context.Background()
	beats := mustHearBeats(t, n, "a")
	var over atomic.Bool
	a := &Members{Self: "a", Every: 20 * time.Millisecond, Timeout: 300 * time.Millisecond, Logger: testLogger(t),
		Beat: func() Heartbeat { return Heartbeat{Over: over.Load()} }}
	if err := n.OpenMembers(ctx, a); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	xBeats := func() {
		b, _ := json.Marshal(Heartbeat{Sent: time.Now().UnixNano(), Sees: map[string]int64{"a": a.sent(time.Now()), "x": 1}})
		if err := n.conn.Publish(membersSubject("x"), b); err != nil {
			t.Fatal(err)
		}
	}
	// a's heartbeat, sent while x beats or not, once it says what want says.
	heartbeat := func(what string, x bool, want func(Heartbeat) bool) {
		t.Helper()
		poll.Until(t, 10*time.Second, what, func() bool {
			if x {
				xBeats()
			}
			for {
				select {
				case msg := <-beats:
					var hb Heartbeat
					if json.Unmarshal(msg.Data, &hb) == nil && want(hb) {
						return true
					}
				default:
					return false
				}
			}
		})
	}
	heartbeat("a hears x, within its share", true, func(hb Heartbeat) bool { _, ok := hb.Sees["x"]; return ok && !hb.Over })
	over.Store(true)
	heartbeat("a over its share, x counted before: nobody waits", true, func(hb Heartbeat) bool {
		_, ok := hb.Sees["x"]
		return ok && hb.Over && len(hb.Wait) == 0
	})
	heartbeat("x gone", false, func(hb Heartbeat) bool { _, ok := hb.Sees["x"]; return !ok && hb.Over })
	poll.Until(t, 10*time.Second, "a's view without x", func() bool { return slices.Equal(a.Live(), []string{"a"}) })
	heartbeat("x back: it waits", true, func(hb Heartbeat) bool { return slices.Equal(hb.Wait, []string{"x"}) })
	over.Store(false)
	heartbeat("a within its share: nobody waits", true, func(hb Heartbeat) bool { return !hb.Over && len(hb.Wait) == 0 })
}

// A node gone for good stops counting in the majority once the nodes
// bucket forgot it: here the bucket names a ghost, which a counts until
// the ghost's record is gone and a reads the bucket again (every 200 ms
// here, as it records itself).
func TestMembers_ForgetsWhatTheBucketForgot(t *testing.T) {
	n := MustOpen(t, t.TempDir())
	ctx := context.Background()
	kv, err := n.js.CreateOrUpdateKeyValue(ctx, natsjs.KeyValueConfig{Bucket: NodesBucket, History: 1, TTL: knownFor})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, "ghost", []byte("x")); err != nil {
		t.Fatal(err)
	}
	a := &Members{Self: "a", Every: 50 * time.Millisecond, Timeout: 300 * time.Millisecond, Logger: testLogger(t), record: 200 * time.Millisecond}
	if err := n.OpenMembers(ctx, a); err != nil { // waits a timeout for the ghost
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	now := time.Now()
	if a.View(now).Leased(now) {
		t.Fatal("a, one of two known, holds a lease")
	}
	if err := kv.Delete(ctx, "ghost"); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 10*time.Second, "a, alone once the ghost is forgotten, holds a lease", func() bool {
		now := time.Now()
		return a.View(now).Leased(now)
	})
	// A node that said it left is not counted again from its record,
	// which may outlive its leaving a moment.
	if _, err := kv.Put(ctx, "leaver", []byte("x")); err != nil {
		t.Fatal(err)
	}
	bye := nats.NewMsg(membersSubject("leaver"))
	bye.Header.Set(leaving, "1")
	if err := n.conn.PublishMsg(bye); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 10*time.Second, "a hears the leaver leave", func() bool { a.mu.Lock(); defer a.mu.Unlock(); return a.seen["leaver"].left })
	if err := a.reload(ctx); err != nil {
		t.Fatal(err)
	}
	if now := time.Now(); !a.View(now).Leased(now) {
		t.Error("a counts again a node that left, from its record")
	}
}

// Once its lease lapsed, a node is told (Changed) its Fence when it comes:
// after the lease lapsed, and before the others, a timeout after they last
// heard it, may take its share over. Here x is a fake node that beats from
// the test, then stops.
func TestMembers_Fence(t *testing.T) {
	n := MustOpen(t, t.TempDir())
	ctx := context.Background()
	type told struct {
		at time.Time
		v  *lambada.Members
	}
	var mu sync.Mutex
	var views []told
	a := &Members{Self: "a", Every: 50 * time.Millisecond, Timeout: 600 * time.Millisecond, Logger: testLogger(t),
		Changed: func(v *lambada.Members) { mu.Lock(); views = append(views, told{time.Now(), v}); mu.Unlock() }}
	if err := n.OpenMembers(ctx, a); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	var last time.Time // x's last heartbeat
	poll.Until(t, 10*time.Second, "a holds its lease with x", func() bool {
		last = time.Now()
		b, _ := json.Marshal(Heartbeat{Sent: last.UnixNano(), Sees: map[string]int64{"a": a.sent(last), "x": last.UnixNano()}})
		if err := n.conn.Publish(membersSubject("x"), b); err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		return a.View(now).Leased(now)
	})
	var fenced told
	poll.Until(t, 10*time.Second, "a told its fence", func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, v := range views {
			if !v.v.Leased(v.at) && !v.v.Fence.IsZero() && !v.at.Before(v.v.Fence) {
				fenced = v
				return true
			}
		}
		return false
	})
	if f := fenced.v.Fence; f.After(last.Add(a.Timeout)) || !f.After(last.Add(a.Timeout/2)) {
		t.Errorf("fence %v after x's last heartbeat, want between half a timeout and a timeout (%v)", f.Sub(last), a.Timeout)
	}
}

// The heartbeat goroutine wakes at the fence, not at its next beat: here
// x's heartbeat gets too old in 4 s, and the fence is 2.5 s away.
func TestMembers_WakesAtTheFence(t *testing.T) {
	now := time.Now()
	m := &Members{Self: "a", Every: time.Second, Timeout: 10 * time.Second, epoch: now.Add(-time.Minute),
		known: map[string]bool{"a": true, "x": true}, held: now.Add(-time.Second)}
	m.seen = map[string]seenBeat{"x": {at: now.Add(-6 * time.Second), beat: Heartbeat{Sees: map[string]int64{"a": m.sent(now.Add(-7 * time.Second)), "x": 1}}}}
	if got, want := m.nextExpiry(now), 2500*time.Millisecond+time.Millisecond; got != want {
		t.Errorf("next wake in %v, want %v (the fence)", got, want)
	}
}

// A node whose heartbeat got too old here but that another still hears
// holds this node's lease back once a short grace ends: Members wakes
// then, not at the next heartbeat. Here x timed out 100 ms ago, y hears it,
// and the grace is a quarter beat.
func TestMembers_WakesAtTheGraceEnd(t *testing.T) {
	now := time.Now()
	m := &Members{Self: "a", Every: time.Second, Timeout: 10 * time.Second, epoch: now.Add(-time.Minute),
		known: map[string]bool{"a": true, "x": true, "y": true}}
	recent := now.Add(-500 * time.Millisecond)
	m.seen = map[string]seenBeat{
		"x": {at: now.Add(-10*time.Second - 100*time.Millisecond), beat: Heartbeat{Sees: map[string]int64{"a": 1, "x": 1}}},
		"y": {at: recent, beat: Heartbeat{Sees: map[string]int64{"a": m.sent(recent), "x": 1, "y": 1}}},
	}
	if v := m.View(now); !v.Leased(now) {
		t.Fatalf("a's lease does not hold within the grace: %+v", v)
	}
	if got, want := m.nextExpiry(now), 150*time.Millisecond+time.Millisecond; got != want {
		t.Errorf("next wake in %v, want %v (the grace's end)", got, want)
	}
	if v := m.View(now.Add(151 * time.Millisecond)); v.Leased(now.Add(151 * time.Millisecond)) {
		t.Errorf("a's lease holds past the grace")
	}
}
