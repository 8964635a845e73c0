package jetstream

import (
	"context"
	"testing"
	"time"

	"github.com/lambada-dev/lambada"
	"github.com/lambada-dev/lambada/internal/poll"
	"github.com/lambada-dev/lambada/internal/storetest"
)

func MustCreateQueue(tb testing.TB, q *Queues, name string, attrs lambada.QueueAttributes) {
	tb.Helper()
	if _, err := q.CreateQueue(context.Background(), name, attrs); err != nil {
		tb.Fatalf("CreateQueue(%s): %v", name, err)
	}
}

func MustSend(tb testing.TB, q *Queues, name, body string) *lambada.Message {
	tb.Helper()
	m, err := q.SendMessage(context.Background(), name, body, nil, nil)
	if err != nil {
		tb.Fatalf("SendMessage(%s): %v", name, err)
	}
	return m
}

// MustReceive receives from name and fails unless it gets want messages.
// Expecting none, it does not wait unless opts says so.
func MustReceive(tb testing.TB, q *Queues, name string, want int, opts lambada.ReceiveOptions) []*lambada.ReceivedMessage {
	tb.Helper()
	if opts.Max == 0 {
		opts.Max = lambada.MaxReceiveMessages
	}
	// A receive that does not wait may miss a message sent a moment ago
	// (as SQS's short polling may): one that expects messages long-polls.
	if want > 0 && opts.Wait == 0 {
		opts.Wait = 10 * time.Second
	}
	got, err := q.Receive(context.Background(), name, opts)
	if err != nil {
		tb.Fatalf("Receive(%s): %v", name, err)
	}
	if len(got) != want {
		tb.Fatalf("Receive(%s) got %d messages, want %d", name, len(got), want)
	}
	return got
}

// visible is the visibility of a receive that keeps the queue's (the
// default 30 s), so that no NAK is sent.
const visible = lambada.DefaultVisibilityTimeout * time.Second

func TestQueues_CreateQueue(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	q := MustOpen(t, t.TempDir()).Queues
	attrs := lambada.DefaultQueueAttributes()
	MustCreateQueue(t, q, "orders", attrs)
	MustCreateQueue(t, q, "orders", attrs) // the same attributes: no error
	other := attrs
	other.VisibilityTimeout = 5
	_, err := q.CreateQueue(ctx, "orders", other)
	storetest.WantCode(t, err, lambada.ECONFLICT)
	_, err = q.CreateQueue(ctx, "bad.name", attrs)
	storetest.WantCode(t, err, lambada.EINVALID)
	MustCreateQueue(t, q, "other", attrs)

	names, err := q.QueueNames(ctx, "ord")
	if err != nil || len(names) != 1 || names[0] != "orders" {
		t.Fatalf("QueueNames(ord) = %v, %v", names, err)
	}
	// Another account's queue of the same name (its AccountKey) is a queue
	// of its own.
	MustCreateQueue(t, q, "111111111111/orders", attrs)
	if err := q.Send(ctx, "111111111111/orders", "for the other", nil); err != nil {
		t.Fatal(err)
	}
	first := MustReceive(t, q, "111111111111/orders", 1, lambada.ReceiveOptions{Visibility: visible})
	if len(first) != 1 || first[0].Body != "for the other" {
		t.Fatalf("the other account's orders: %+v", first)
	}
	if err := q.ChangeVisibility(ctx, "111111111111/orders", first[0].ReceiptHandle, 0); err != nil {
		t.Fatal(err)
	}
	// Its first receive was recorded (the stream's name is a key token).
	again := MustReceive(t, q, "111111111111/orders", 1, lambada.ReceiveOptions{Visibility: visible})
	if len(again) != 1 || again[0].ReceiveCount != 2 || !again[0].FirstReceived.Equal(first[0].FirstReceived.Truncate(time.Millisecond)) {
		t.Fatalf("received again: %+v (first received %v)", again, first[0].FirstReceived)
	}
	if names, err := q.QueueNames(ctx, "111111111111/"); err != nil || len(names) != 1 || names[0] != "111111111111/orders" {
		t.Fatalf("QueueNames(111111111111/) = %v, %v", names, err)
	}
	_, err = q.CreateQueue(ctx, "1111/orders", attrs)
	storetest.WantCode(t, err, lambada.EINVALID)
	_, err = q.Queue(ctx, "missing")
	storetest.WantCode(t, err, lambada.ENOTFOUND)
	err = q.Send(ctx, "missing", "x", nil)
	storetest.WantCode(t, err, lambada.ENOTFOUND)
	if err := q.Send(ctx, "orders", "x", map[string]lambada.MessageAttribute{"n": {DataType: "Number", StringValue: "1"}}); err != nil {
		t.Fatal(err)
	}
	m := MustReceive(t, q, "orders", 1, lambada.ReceiveOptions{Visibility: visible})[0]
	if m.Body != "x" || m.Attributes["n"].StringValue != "1" || m.ReceiveCount != 1 {
		t.Fatalf("received %+v", m)
	}

	if err := q.DeleteQueue(ctx, "orders"); err != nil {
		t.Fatal(err)
	}
	storetest.WantCode(t, q.DeleteQueue(ctx, "orders"), lambada.ENOTFOUND)
	// A queue created again is a new queue: the old handle is not its.
	MustCreateQueue(t, q, "orders", other)
	err = q.DeleteMessage(ctx, "orders", m.ReceiptHandle)
	if e, ok := err.(*lambada.Error); !ok || e.Reason != lambada.ReasonReceiptHandle {
		t.Fatalf("delete with a handle of the deleted queue: %v", err)
	}
}

// TestQueues_VisibilityAndDelete holds what the receipt handle design rests
// on: a delivery NAK'ed with a delay (a receive's own visibility, or
// ChangeVisibility) can still be acked with its handle, and a deleted message
// never comes back.
func TestQueues_VisibilityAndDelete(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	q := MustOpen(t, t.TempDir()).Queues
	MustCreateQueue(t, q, "q", lambada.DefaultQueueAttributes())
	sent := MustSend(t, q, "q", "one")

	// A receive's own visibility (a NAK with that delay): the message comes
	// back after it, received twice.
	first := MustReceive(t, q, "q", 1, lambada.ReceiveOptions{Visibility: time.Second})[0]
	if first.ID != sent.ID || first.ReceiveCount != 1 {
		t.Fatalf("first receive: %+v", first)
	}
	MustReceive(t, q, "q", 0, lambada.ReceiveOptions{Visibility: visible})
	start := time.Now()
	second := MustReceive(t, q, "q", 1, lambada.ReceiveOptions{Visibility: time.Hour, Wait: 5 * time.Second})[0]
	if second.ReceiveCount != 2 || time.Since(start) > 3*time.Second || !second.FirstReceived.Equal(first.FirstReceived.Truncate(time.Millisecond)) {
		t.Fatalf("second receive after %v: %+v (first received %v)", time.Since(start), second, first.FirstReceived)
	}

	// ChangeVisibility to 0 with the delayed delivery's handle: back at once.
	if err := q.ChangeVisibility(ctx, "q", second.ReceiptHandle, 0); err != nil {
		t.Fatal(err)
	}
	third := MustReceive(t, q, "q", 1, lambada.ReceiveOptions{Visibility: 2 * time.Second, Wait: 2 * time.Second})[0]
	if third.ReceiveCount != 3 {
		t.Fatalf("third receive: %+v", third)
	}
	// Acked while NAK'ed with a delay: deleted for good.
	if err := q.DeleteMessage(ctx, "q", third.ReceiptHandle); err != nil {
		t.Fatal(err)
	}
	MustReceive(t, q, "q", 0, lambada.ReceiveOptions{Visibility: visible, Wait: 3 * time.Second})
	if err := q.DeleteMessage(ctx, "q", third.ReceiptHandle); err != nil {
		t.Fatalf("deleting again: %v", err)
	}
	if counts, err := q.Counts(ctx, "q"); err != nil || counts != (lambada.QueueCounts{}) {
		t.Fatalf("counts after delete: %+v, %v", counts, err)
	}

	for _, h := range []string{"", "bm9wZQ", first.ReceiptHandle + "x"} {
		err := q.DeleteMessage(ctx, "q", h)
		if e, ok := err.(*lambada.Error); !ok || e.Reason != lambada.ReasonReceiptHandle {
			t.Errorf("DeleteMessage(%q) = %v", h, err)
		}
	}
}

func TestQueues_LongPollDelayAndPurge(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	q := MustOpen(t, t.TempDir()).Queues
	MustCreateQueue(t, q, "q", lambada.DefaultQueueAttributes())

	// A long poll returns as soon as a message arrives: the message is sent
	// once the poll's pull request waits on the server.
	type result struct {
		msgs []*lambada.ReceivedMessage
		err  error
	}
	polled := make(chan result, 1)
	start := time.Now()
	go func() {
		msgs, err := q.Receive(ctx, "q", lambada.ReceiveOptions{Max: 10, Visibility: visible, Wait: 10 * time.Second})
		polled <- result{msgs, err}
	}()
	rec, _, err := q.record(ctx, "q")
	if err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 5*time.Second, "the long poll waits on the server", func() bool {
		c, err := q.js.Consumer(ctx, streamName("q", rec), consumerName)
		if err != nil {
			t.Fatal(err)
		}
		info, err := c.Info(ctx)
		return err == nil && info.NumWaiting > 0
	})
	MustSend(t, q, "q", "late")
	got := <-polled
	if got.err != nil || len(got.msgs) != 1 || got.msgs[0].Body != "late" || time.Since(start) > 5*time.Second {
		t.Fatalf("long poll after %v: %+v, %v", time.Since(start), got.msgs, got.err)
	}

	// A delayed message is invisible, counted as delayed, until its time.
	delay := time.Second
	if _, err := q.SendMessage(ctx, "q", "delayed", nil, &delay); err != nil {
		t.Fatal(err)
	}
	MustReceive(t, q, "q", 0, lambada.ReceiveOptions{Visibility: visible})
	if c, err := q.Counts(ctx, "q"); err != nil || c != (lambada.QueueCounts{NotVisible: 1, Delayed: 1}) {
		t.Fatalf("counts with one in flight, one delayed: %+v, %v", c, err)
	}
	d := MustReceive(t, q, "q", 1, lambada.ReceiveOptions{Visibility: visible, Wait: 5 * time.Second})[0]
	if d.Body != "delayed" || d.ReceiveCount != 1 {
		t.Fatalf("delayed message: %+v", d)
	}

	for range 3 {
		MustSend(t, q, "q", "x")
	}
	if c, err := q.Counts(ctx, "q"); err != nil || c != (lambada.QueueCounts{Visible: 3, NotVisible: 2}) {
		t.Fatalf("counts: %+v, %v", c, err)
	}
	if err := q.PurgeQueue(ctx, "q"); err != nil {
		t.Fatal(err)
	}
	if c, err := q.Counts(ctx, "q"); err != nil || c != (lambada.QueueCounts{}) {
		t.Fatalf("counts after purge: %+v, %v", c, err)
	}
	MustSend(t, q, "q", "after purge")
	if m := MustReceive(t, q, "q", 1, lambada.ReceiveOptions{Visibility: visible}); m[0].Body != "after purge" {
		t.Fatalf("after purge: %+v", m[0])
	}
}

func TestQueues_Restart(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dir := t.TempDir()
	n := MustOpen(t, dir)
	attrs := lambada.DefaultQueueAttributes()
	attrs.VisibilityTimeout = 1
	MustCreateQueue(t, n.Queues, "kept", attrs)
	MustSend(t, n.Queues, "kept", "a")
	MustSend(t, n.Queues, "kept", "b")
	a := MustReceive(t, n.Queues, "kept", 1, lambada.ReceiveOptions{Max: 1, Visibility: time.Second})[0]
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}

	n = MustOpen(t, dir)
	got, err := n.Queues.Queue(ctx, "kept")
	if err != nil || got.Attributes != attrs {
		t.Fatalf("after reopening: %+v, %v", got, err)
	}
	// a comes back once its visibility, started before the restart, ends
	// (or at once: nats-server v2.15.2 may redeliver a delivery still in its
	// ack wait when the consumer is recovered).
	byBody := map[string]*lambada.ReceivedMessage{}
	for len(byBody) < 2 {
		ms, err := n.Queues.Receive(ctx, "kept", lambada.ReceiveOptions{Max: 10, Visibility: time.Hour, Wait: 5 * time.Second})
		if err != nil || len(ms) == 0 {
			t.Fatalf("after reopening, received %v, %v", byBody, err)
		}
		for _, m := range ms {
			byBody[m.Body] = m
		}
	}
	b, again := byBody["b"], byBody["a"]
	if b == nil || again == nil || b.ReceiveCount != 1 || again.ReceiveCount != 2 || !again.FirstReceived.Equal(a.FirstReceived.Truncate(time.Millisecond)) {
		t.Fatalf("after reopening: %+v and %+v", b, again)
	}
	for _, m := range []*lambada.ReceivedMessage{b, again} {
		if err := n.Queues.DeleteMessage(ctx, "kept", m.ReceiptHandle); err != nil {
			t.Fatal(err)
		}
	}
	if c, err := n.Queues.Counts(ctx, "kept"); err != nil || c != (lambada.QueueCounts{}) {
		t.Fatalf("counts: %+v, %v", c, err)
	}
}
