package jetstream

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/lambada-dev/lambada"
	"github.com/lambada-dev/lambada/internal/poll"
	natsjs "github.com/nats-io/nats.go/jetstream"
)

// collector gathers deliveries from Consume.
type collector struct {
	mu   sync.Mutex
	got  []lambada.QueuedEvent
	more chan struct{}
}

func newCollector() *collector { return &collector{more: make(chan struct{}, 1024)} }

func (c *collector) handle(d lambada.QueuedEvent) {
	c.mu.Lock()
	c.got = append(c.got, d)
	c.mu.Unlock()
	c.more <- struct{}{}
}

// next waits for the next delivery.
func (c *collector) next(tb testing.TB) lambada.QueuedEvent {
	tb.Helper()
	select {
	case <-c.more:
	case <-time.After(10 * time.Second):
		tb.Fatal("no delivery within 10 s")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	d := c.got[0]
	c.got = c.got[1:]
	return d
}

// mustConsume runs Consume until the test ends.
func mustConsume(tb testing.TB, q *EventQueue, c *collector) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = q.Consume(ctx, c.handle) }()
	tb.Cleanup(func() { cancel(); <-done })
}

func TestEventQueue_RoundTrip(t *testing.T) {
	n := MustOpen(t, t.TempDir())
	ctx := t.Context()
	accepted := time.Unix(1700000000, 123456789)
	in := &lambada.AsyncEvent{RequestID: "r1", Function: "fn", Account: "111111111111", Qualifier: "live", Payload: []byte(`{"a":1}`),
		Accepted: accepted, Attempts: 1, NotBefore: accepted.Add(time.Minute)}
	if err := n.Events.Enqueue(ctx, in); err != nil {
		t.Fatal(err)
	}
	c := newCollector()
	mustConsume(t, n.Events, c)
	d := c.next(t)
	got := d.Event()
	if got.RequestID != "r1" || got.Function != "fn" || got.Account != "111111111111" || got.Qualifier != "live" || !bytes.Equal(got.Payload, in.Payload) ||
		!got.Accepted.Equal(accepted) || got.Attempts != 1 || !got.NotBefore.Equal(in.NotBefore) || deliveries(t, d) != 1 {
		t.Fatalf("got %+v (deliveries %d), want %+v", got, deliveries(t, d), in)
	}

	// Later: the same event comes back, counted.
	if err := d.Later(ctx, time.Millisecond); err != nil {
		t.Fatal(err)
	}
	d = c.next(t)
	if d.Event().RequestID != "r1" || deliveries(t, d) != 2 {
		t.Fatalf("after Later: %s, %d deliveries", d.Event().RequestID, deliveries(t, d))
	}
	// Done: it never comes back, and the stream is empty.
	if err := d.Done(ctx); err != nil {
		t.Fatal(err)
	}
	waitEmpty(t, n.Events)

	// The same attempt published twice is stored once.
	dup := &lambada.AsyncEvent{RequestID: "r2", Function: "fn", Accepted: accepted}
	for range 2 {
		if err := n.Events.Enqueue(ctx, dup); err != nil {
			t.Fatal(err)
		}
	}
	if d := c.next(t); d.Event().RequestID != "r2" {
		t.Fatalf("got %s", d.Event().RequestID)
	} else {
		_ = d.Done(ctx)
	}
	waitEmpty(t, n.Events)
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.got) != 0 {
		t.Fatalf("a duplicate was delivered: %s", c.got[0].Event().RequestID)
	}
}

// deliveries is the queue's count of d's deliveries.
func deliveries(t *testing.T, d lambada.QueuedEvent) uint64 {
	meta, err := d.(*delivery).m.Metadata()
	if err != nil {
		t.Fatal(err)
	}
	return meta.NumDelivered
}

// waitEmpty waits until the queue holds nothing, waiting or in work.
func waitEmpty(tb testing.TB, q *EventQueue) {
	tb.Helper()
	poll.Until(tb, 10*time.Second, "the queue is empty", func() bool {
		waiting, working, err := q.Pending(context.Background())
		return err == nil && waiting == 0 && working == 0
	})
}

// An event delivered and never finished (its node died) is delivered again
// after the acknowledgement wait, also to a node that reopens the store.
func TestEventQueue_Redelivery(t *testing.T) {
	dir := t.TempDir()
	n, err := Open(t.Context(), Config{Dir: dir, Logger: testLogger(t), AckWait: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := n.Events.Enqueue(t.Context(), &lambada.AsyncEvent{RequestID: fmt.Sprint("e", i), Function: "fn", Accepted: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	c := newCollector()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = n.Events.Consume(ctx, c.handle) }()
	first := c.next(t)
	_ = first.Done(t.Context()) // e0 finished; e1 and e2 delivered or not, never finished
	cancel()
	<-done
	n.Close()

	if n, err = Open(t.Context(), Config{Dir: dir, Logger: testLogger(t), AckWait: 200 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	c = newCollector()
	mustConsume(t, n.Events, c)
	seen := map[string]bool{}
	for len(seen) < 2 {
		d := c.next(t)
		if d.Event().RequestID == first.Event().RequestID {
			t.Fatalf("finished event %s delivered again", first.Event().RequestID)
		}
		seen[d.Event().RequestID] = true
		_ = d.Done(t.Context())
	}
}

// A full queue refuses an event with an error rather than dropping it; the
// last tenth of its room is kept for retries and records.
func TestEventQueue_Full(t *testing.T) {
	n, err := Open(t.Context(), Config{Dir: t.TempDir(), Logger: testLogger(t), EventBytes: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	ev := func(id string, size int) *lambada.AsyncEvent {
		return &lambada.AsyncEvent{RequestID: id, Function: "fn", Payload: bytes.Repeat([]byte("x"), size), Accepted: time.Now()}
	}
	full := func(err error) bool {
		return lambada.ErrorCode(err) == lambada.EINTERNAL && lambada.ErrorMessage(err) == "The asynchronous invocation queue is full: the event was not accepted."
	}
	// Five events of 12 KB fill more than 90% of 64 KB.
	for i := range 5 {
		if err := n.Events.Requeue(t.Context(), ev(fmt.Sprint("big", i), 12<<10)); err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
	}
	// Until the queue has read its fill, a new event may still be taken
	// (the same id each time: stored once).
	want := 6
	poll.Until(t, 10*time.Second, "new events are refused", func() bool {
		err := n.Events.Enqueue(t.Context(), ev("new", 100))
		if err != nil && !full(err) {
			t.Fatal(err)
		}
		if err == nil {
			want = 7
		}
		return full(err)
	})
	if err := n.Events.Requeue(t.Context(), ev("retry", 1<<10)); err != nil {
		t.Fatalf("a retry in the last tenth: %v", err)
	}
	if err := n.Events.Requeue(t.Context(), ev("too much", 12<<10)); !full(err) {
		t.Fatalf("past the limit: %v", err)
	}
	// The consumer counts a new message a moment after its publish was
	// acknowledged.
	poll.Until(t, 10*time.Second, fmt.Sprintf("%d events waiting", want), func() bool {
		waiting, _, err := n.Events.Pending(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		return waiting == want
	})
}

// The stream always holds one keeper, renewed every keeperEvery, so that
// it never empties.
func TestEventQueue_Keeper(t *testing.T) {
	n := MustOpen(t, t.TempDir())
	keeper := func() (seq uint64, count uint64) {
		info, err := n.Events.stream.Info(t.Context(), natsjs.WithSubjectFilter(keepSubject))
		if err != nil {
			t.Fatal(err)
		}
		m, err := n.Events.stream.GetLastMsgForSubject(t.Context(), keepSubject)
		if err != nil {
			return 0, info.State.Subjects[keepSubject]
		}
		return m.Sequence, info.State.Subjects[keepSubject]
	}
	first, _ := keeper()
	poll.Until(t, 10*time.Second, "a new keeper", func() bool {
		seq, count := keeper()
		if count > 2 {
			t.Fatalf("%d keepers", count)
		}
		return seq > first && count == 1
	})
}
