package async

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/lambada-dev/lambada"
	"github.com/lambada-dev/lambada/inmem"
	"github.com/lambada-dev/lambada/internal/poll"
)

// fakeQueue hands the events given to Consume's handler; Enqueue records.
type fakeQueue struct {
	mu       sync.Mutex
	enqueued []*lambada.AsyncEvent
	feed     chan lambada.QueuedEvent
	fail     error // Requeue's answer, when set
}

func (q *fakeQueue) Enqueue(_ context.Context, e *lambada.AsyncEvent) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.enqueued = append(q.enqueued, e)
	return nil
}

func (q *fakeQueue) Requeue(ctx context.Context, e *lambada.AsyncEvent) error {
	if q.fail != nil {
		return q.fail
	}
	return q.Enqueue(ctx, e)
}

func (q *fakeQueue) Consume(ctx context.Context, handle func(lambada.QueuedEvent)) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case d := <-q.feed:
			handle(d)
		}
	}
}

// fakeDelivery records what the dispatcher did with it.
type fakeDelivery struct {
	e lambada.AsyncEvent

	mu      sync.Mutex
	done    bool
	later   time.Duration
	extends int
	settled chan struct{}
}

func newDelivery(e lambada.AsyncEvent) *fakeDelivery {
	return &fakeDelivery{e: e, later: -1, settled: make(chan struct{})}
}

func (d *fakeDelivery) Event() *lambada.AsyncEvent { return &d.e }
func (d *fakeDelivery) Done(context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.done = true
	close(d.settled)
	return nil
}

func (d *fakeDelivery) Later(_ context.Context, delay time.Duration) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.later = delay
	close(d.settled)
	return nil
}

func (d *fakeDelivery) Extend(context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.extends++
	return nil
}

// runnerFunc adapts a function to Runner.
type runnerFunc func(ctx context.Context, e *lambada.AsyncEvent) (*lambada.Result, error)

func (f runnerFunc) RunEvent(ctx context.Context, e *lambada.AsyncEvent) (*lambada.Result, error) {
	return f(ctx, e)
}

// sender records SQS messages.
type sender struct {
	mu    sync.Mutex
	sent  []string
	attrs []map[string]lambada.MessageAttribute
	calls int
	err   error
}

func (s *sender) Send(_ context.Context, queue, body string, attrs map[string]lambada.MessageAttribute) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.err != nil {
		return s.err
	}
	s.sent = append(s.sent, queue+" "+body+" "+attrs["ErrorCode"].StringValue+" "+attrs["ErrorMessage"].StringValue+" "+attrs["RequestID"].StringValue)
	s.attrs = append(s.attrs, attrs)
	return nil
}

type harness struct {
	closing chan struct{} // closed by a test before it closes the dispatcher
	q       *fakeQueue
	store   *inmem.Store
	sqs     *sender
	d       *Dispatcher
	ran     chan *lambada.AsyncEvent
	result  func(*lambada.AsyncEvent) (*lambada.Result, error)
	meter   *meter
}

// meter records what a Dispatcher counts and times.
type meter struct {
	mu     sync.Mutex
	counts map[lambada.Metric]int
	ages   []time.Duration
}

func (m *meter) Count(metric lambada.Metric, l lambada.MetricLabels) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.counts == nil {
		m.counts = map[lambada.Metric]int{}
	}
	m.counts[metric]++
}

func (m *meter) Observe(metric lambada.Metric, l lambada.MetricLabels, d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if metric == lambada.MetricAsyncEventAge {
		m.ages = append(m.ages, d)
	}
}

func newHarness(t *testing.T, now time.Time) *harness {
	h := &harness{closing: make(chan struct{}), q: &fakeQueue{feed: make(chan lambada.QueuedEvent)}, store: &inmem.Store{}, sqs: &sender{}, ran: make(chan *lambada.AsyncEvent, 10)}
	h.result = func(*lambada.AsyncEvent) (*lambada.Result, error) {
		return &lambada.Result{Payload: []byte("null"), ExecutedVersion: "$LATEST"}, nil
	}
	h.meter = &meter{}
	h.d = &Dispatcher{Queue: h.q, Functions: h.store, Queues: h.sqs, Region: "us-east-1", Account: "000000000000", Meter: h.meter,
		AckWait: 30 * time.Millisecond, Now: func() time.Time { return now },
		Runner: runnerFunc(func(_ context.Context, e *lambada.AsyncEvent) (*lambada.Result, error) {
			h.ran <- e
			return h.result(e)
		})}
	h.d.Open()
	t.Cleanup(func() { h.d.Close() })
	return h
}

func (h *harness) put(t *testing.T, f *lambada.Function) {
	if _, err := h.store.PutFunction(context.Background(), f); err != nil {
		t.Fatal(err)
	}
}

// deliver hands d to the dispatcher and waits until it settled it.
func (h *harness) deliver(t *testing.T, d *fakeDelivery) {
	t.Helper()
	h.q.feed <- d
	select {
	case <-d.settled:
	case <-time.After(10 * time.Second):
		t.Fatal("the delivery was neither done nor put back")
	}
}

// failed is a runner result: the function failed with msg.
func failed(msg string) func(*lambada.AsyncEvent) (*lambada.Result, error) {
	payload, _ := json.Marshal(map[string]string{"errorMessage": msg, "errorType": "Error"})
	return func(*lambada.AsyncEvent) (*lambada.Result, error) {
		return &lambada.Result{Payload: payload, FunctionError: "Unhandled", ExecutedVersion: "$LATEST"}, nil
	}
}

// flakySender fails its first failures sends.
type flakySender struct {
	*sender
	failures int
}

func (f *flakySender) Send(ctx context.Context, arn, body string, attrs map[string]lambada.MessageAttribute) error {
	if f.failures > 0 {
		f.failures--
		return errors.New("store unavailable")
	}
	return f.sender.Send(ctx, arn, body, attrs)
}

func function(name string) *lambada.Function {
	f := &lambada.Function{Name: name, Latest: lambada.NewFunctionConfig()}
	return f
}

func TestDispatcher(t *testing.T) {
	t0 := time.Unix(1700000000, 0)
	queue := "arn:aws:sqs:us-east-1:000000000000:dlq"

	t.Run("an event of a deleted function is dropped", func(t *testing.T) {
		h := newHarness(t, t0)
		d := newDelivery(lambada.AsyncEvent{RequestID: "r", Function: "gone", Accepted: t0})
		h.deliver(t, d)
		if !d.done || len(h.ran) != 0 {
			t.Fatalf("done=%v ran=%d", d.done, len(h.ran))
		}
	})

	t.Run("an expired event is given up without running", func(t *testing.T) {
		h := newHarness(t, t0.Add(6*time.Hour))
		f := function("f")
		f.Latest.DeadLetterTarget = queue
		h.put(t, f)
		d := newDelivery(lambada.AsyncEvent{RequestID: "r", Function: "f", Accepted: t0, Payload: []byte(`{"a":1}`), Attempts: 1})
		h.deliver(t, d)
		if !d.done || len(h.ran) != 0 || len(h.sqs.sent) != 1 || h.sqs.sent[0] != `dlq {"a":1} 429 EventAgeExceeded r` {
			t.Fatalf("done=%v ran=%d sent=%q", d.done, len(h.ran), h.sqs.sent)
		}
	})

	t.Run("an event not due yet is put back until it is", func(t *testing.T) {
		h := newHarness(t, t0)
		h.put(t, function("f"))
		d := newDelivery(lambada.AsyncEvent{RequestID: "r", Function: "f", Accepted: t0, NotBefore: t0.Add(40 * time.Second)})
		h.deliver(t, d)
		if d.done || d.later != 40*time.Second || len(h.ran) != 0 {
			t.Fatalf("done=%v later=%v ran=%d", d.done, d.later, len(h.ran))
		}
	})

	t.Run("a long invocation is extended", func(t *testing.T) {
		h := newHarness(t, t0)
		h.put(t, function("f"))
		release := make(chan struct{})
		var once sync.Once
		t.Cleanup(func() { once.Do(func() { close(release) }) }) // before the dispatcher closes
		h.result = func(*lambada.AsyncEvent) (*lambada.Result, error) {
			<-release
			return &lambada.Result{Payload: []byte("null"), ExecutedVersion: "$LATEST"}, nil
		}
		d := newDelivery(lambada.AsyncEvent{RequestID: "r", Function: "f", Accepted: t0})
		h.q.feed <- d
		<-h.ran
		poll.Until(t, 10*time.Second, "three extends with a 30 ms acknowledgement wait", func() bool {
			d.mu.Lock()
			defer d.mu.Unlock()
			return d.extends >= 3
		})
		once.Do(func() { close(release) })
		<-d.settled
		if !d.done {
			t.Fatal("not done")
		}
	})

	t.Run("a function error is stored again as a retry", func(t *testing.T) {
		h := newHarness(t, t0)
		h.put(t, function("f"))
		h.result = func(*lambada.AsyncEvent) (*lambada.Result, error) {
			return &lambada.Result{Payload: []byte(`{"errorMessage":"boom"}`), FunctionError: "Unhandled", ExecutedVersion: "$LATEST"}, nil
		}
		d := newDelivery(lambada.AsyncEvent{RequestID: "r", Function: "f", Accepted: t0})
		h.deliver(t, d)
		if !d.done || len(h.q.enqueued) != 1 || h.q.enqueued[0].Attempts != 1 || !h.q.enqueued[0].NotBefore.Equal(t0.Add(time.Minute)) {
			t.Fatalf("done=%v enqueued=%+v", d.done, h.q.enqueued)
		}
	})

	// A function of another account: its event names the account, and its
	// dead-letter queue is its account's.
	t.Run("another account's function and queue", func(t *testing.T) {
		h := newHarness(t, t0)
		f := function("f")
		f.Account = "111111111111"
		f.Latest.DeadLetterTarget = "arn:aws:sqs:us-east-1:111111111111:dlq"
		h.put(t, f)
		h.result = func(e *lambada.AsyncEvent) (*lambada.Result, error) {
			if e.Account != "111111111111" {
				t.Errorf("ran an event of account %q", e.Account)
			}
			return &lambada.Result{Payload: []byte(`{"errorMessage":"boom","errorType":"Error"}`), FunctionError: "Unhandled", ExecutedVersion: "$LATEST"}, nil
		}
		d := newDelivery(lambada.AsyncEvent{RequestID: "r", Function: "f", Account: "111111111111", Accepted: t0, Attempts: 2, Payload: []byte(`{}`)})
		h.deliver(t, d)
		if !d.done || len(h.sqs.sent) != 1 || h.sqs.sent[0] != "111111111111/dlq {} 200 boom r" {
			t.Fatalf("done=%v sent=%q", d.done, h.sqs.sent)
		}
	})

	// An event whose retries are spent is dropped; a dead letter that cannot
	// be sent counts as a DeadLetterError; each attempt's age is timed.
	t.Run("metrics", func(t *testing.T) {
		h := newHarness(t, t0)
		f := function("f")
		f.Latest.DeadLetterTarget = queue
		h.put(t, f)
		h.sqs.err = lambada.Errorf(lambada.ENOTFOUND, "no such queue")
		h.result = func(*lambada.AsyncEvent) (*lambada.Result, error) {
			return &lambada.Result{Payload: []byte(`{"errorMessage":"boom"}`), FunctionError: "Unhandled", ExecutedVersion: "$LATEST"}, nil
		}
		d := newDelivery(lambada.AsyncEvent{RequestID: "r", Function: "f", Accepted: t0.Add(-90 * time.Second), Attempts: 2, Payload: []byte(`{}`)})
		h.deliver(t, d)
		h.meter.mu.Lock()
		defer h.meter.mu.Unlock()
		if h.meter.counts[lambada.MetricAsyncEventsDropped] != 1 || h.meter.counts[lambada.MetricDeadLetterErrors] != 1 ||
			h.meter.counts[lambada.MetricDestinationFailures] != 0 || len(h.meter.ages) != 1 || h.meter.ages[0] != 90*time.Second {
			t.Fatalf("counts %v, ages %v", h.meter.counts, h.meter.ages)
		}
	})

	t.Run("retries exhausted: the dead letter carries the error", func(t *testing.T) {
		h := newHarness(t, t0)
		f := function("f")
		f.Latest.DeadLetterTarget = queue
		h.put(t, f)
		h.result = func(*lambada.AsyncEvent) (*lambada.Result, error) {
			return &lambada.Result{Payload: []byte(`{"errorMessage":"boom","errorType":"Error"}`), FunctionError: "Unhandled", ExecutedVersion: "$LATEST"}, nil
		}
		d := newDelivery(lambada.AsyncEvent{RequestID: "r", Function: "f", Accepted: t0, Attempts: 2, Payload: []byte(`{}`)})
		h.deliver(t, d)
		if !d.done || len(h.q.enqueued) != 0 || len(h.sqs.sent) != 1 || h.sqs.sent[0] != "dlq {} 200 boom r" {
			t.Fatalf("done=%v enqueued=%d sent=%q", d.done, len(h.q.enqueued), h.sqs.sent)
		}
	})

	t.Run("a destination that keeps failing loses the record; the event does not run again", func(t *testing.T) {
		h := newHarness(t, t0)
		f := function("f")
		f.Latest.DeadLetterTarget = queue
		h.put(t, f)
		h.sqs.err = errors.New("store unavailable")
		h.result = failed("boom")
		d := newDelivery(lambada.AsyncEvent{RequestID: "r", Function: "f", Accepted: t0, Attempts: 2})
		h.deliver(t, d)
		if !d.done || h.sqs.calls != sendAttempts || h.d.Lost() != 1 || len(h.ran) != 1 {
			t.Fatalf("done=%v later=%v sends=%d lost=%d ran=%d", d.done, d.later, h.sqs.calls, h.d.Lost(), len(h.ran))
		}
	})

	t.Run("a destination that fails once takes the record at the next try", func(t *testing.T) {
		h := newHarness(t, t0)
		f := function("f")
		f.Latest.DeadLetterTarget = queue
		h.put(t, f)
		flaky := &flakySender{sender: h.sqs, failures: 1}
		h.d.Queues = flaky
		h.result = failed("boom")
		d := newDelivery(lambada.AsyncEvent{RequestID: "r", Function: "f", Accepted: t0, Attempts: 2, Payload: []byte(`{}`)})
		h.deliver(t, d)
		if !d.done || len(h.sqs.sent) != 1 || h.d.Lost() != 0 {
			t.Fatalf("done=%v sent=%q lost=%d", d.done, h.sqs.sent, h.d.Lost())
		}
	})

	t.Run("a throttle puts the event back for as long as it has waited", func(t *testing.T) {
		h := newHarness(t, t0.Add(4*time.Second))
		h.put(t, function("f"))
		h.result = func(*lambada.AsyncEvent) (*lambada.Result, error) {
			return nil, lambada.Errorf(lambada.ETHROTTLED, "Rate Exceeded.")
		}
		d := newDelivery(lambada.AsyncEvent{RequestID: "r", Function: "f", Accepted: t0, Attempts: 1})
		h.deliver(t, d)
		if d.done || d.later != 4*time.Second || len(h.q.enqueued) != 0 || h.d.Throttled() != 1 {
			t.Fatalf("done=%v later=%v enqueued=%d throttled=%d", d.done, d.later, len(h.q.enqueued), h.d.Throttled())
		}
	})

	t.Run("a function being updated or created puts the event back", func(t *testing.T) {
		h := newHarness(t, t0)
		h.put(t, function("f"))
		h.result = func(*lambada.AsyncEvent) (*lambada.Result, error) {
			return nil, lambada.Errorf(lambada.ECONFLICT, "The operation cannot be performed at this time. The function is currently in the following state: Pending")
		}
		d := newDelivery(lambada.AsyncEvent{RequestID: "r", Function: "f", Accepted: t0})
		h.deliver(t, d)
		if d.done || d.later != time.Second {
			t.Fatalf("done=%v later=%v", d.done, d.later)
		}
	})

	t.Run("an event of a deleted version or alias is dropped", func(t *testing.T) {
		h := newHarness(t, t0)
		h.put(t, function("f"))
		h.result = func(*lambada.AsyncEvent) (*lambada.Result, error) {
			return nil, lambada.Errorf(lambada.ENOTFOUND, "Function not found: arn:aws:lambda:us-east-1:000000000000:function:f:live")
		}
		d := newDelivery(lambada.AsyncEvent{RequestID: "r", Function: "f", Qualifier: "live", Accepted: t0})
		h.deliver(t, d)
		if !d.done {
			t.Fatalf("done=%v later=%v", d.done, d.later)
		}
	})

	t.Run("a retry that cannot be stored leaves the event queued", func(t *testing.T) {
		h := newHarness(t, t0)
		h.put(t, function("f"))
		h.q.fail = errors.New("store unavailable")
		h.result = failed("boom")
		d := newDelivery(lambada.AsyncEvent{RequestID: "r", Function: "f", Accepted: t0})
		h.deliver(t, d)
		if d.done || d.later != time.Second {
			t.Fatalf("done=%v later=%v", d.done, d.later)
		}
	})

	t.Run("the dead-letter queue of the version that ran", func(t *testing.T) {
		h := newHarness(t, t0)
		f := function("f")
		f.Latest.DeadLetterTarget = "arn:aws:sqs:us-east-1:000000000000:latest"
		v1, v2 := f.Latest.Clone(), f.Latest.Clone()
		v1.Version, v1.DeadLetterTarget = "1", "arn:aws:sqs:us-east-1:000000000000:one"
		v2.Version, v2.DeadLetterTarget = "2", "arn:aws:sqs:us-east-1:000000000000:two"
		f.Versions = []lambada.FunctionConfig{v1, v2}
		// Half the alias's invocations run version 2; this one ran 1.
		f.PutAlias(lambada.Alias{Name: "live", FunctionVersion: "1", Routing: lambada.Routing{"2": 0.5}})
		h.put(t, f)
		h.result = func(*lambada.AsyncEvent) (*lambada.Result, error) {
			return &lambada.Result{Payload: []byte(`{"errorMessage":"boom"}`), FunctionError: "Unhandled", ExecutedVersion: "1"}, nil
		}
		d := newDelivery(lambada.AsyncEvent{RequestID: "r", Function: "f", Qualifier: "live", Accepted: t0, Attempts: 2, Payload: []byte(`{}`)})
		h.deliver(t, d)
		if len(h.sqs.sent) != 1 || !strings.HasPrefix(h.sqs.sent[0], "one ") {
			t.Fatalf("sent %q", h.sqs.sent)
		}
	})

	t.Run("the configuration of the qualifier invoked", func(t *testing.T) {
		h := newHarness(t, t0)
		f := function("f")
		v1 := f.Latest.Clone()
		v1.Version = "1"
		f.Versions = []lambada.FunctionConfig{v1}
		f.PutAlias(lambada.Alias{Name: "live", FunctionVersion: "1"})
		zero := 0
		f.PutEventInvokeConfig(lambada.EventInvokeConfig{Qualifier: "$LATEST", OnFailure: "arn:aws:sqs:us-east-1:000000000000:latest"})
		f.PutEventInvokeConfig(lambada.EventInvokeConfig{Qualifier: "1", OnFailure: "arn:aws:sqs:us-east-1:000000000000:one"})
		f.PutEventInvokeConfig(lambada.EventInvokeConfig{Qualifier: "live", MaximumRetryAttempts: &zero, OnFailure: "arn:aws:sqs:us-east-1:000000000000:live"})
		h.put(t, f)
		h.result = func(*lambada.AsyncEvent) (*lambada.Result, error) {
			return &lambada.Result{Payload: []byte(`{}`), FunctionError: "Unhandled", ExecutedVersion: "1"}, nil
		}
		d := newDelivery(lambada.AsyncEvent{RequestID: "r", Function: "f", Qualifier: "live", Accepted: t0, Payload: []byte(`{}`)})
		h.deliver(t, d)
		if !d.done || len(h.q.enqueued) != 0 || len(h.sqs.sent) != 1 || !strings.HasPrefix(h.sqs.sent[0], "live ") ||
			!strings.Contains(h.sqs.sent[0], `"functionArn":"arn:aws:lambda:us-east-1:000000000000:function:f:live"`) {
			t.Fatalf("done=%v retries=%d sent=%q", d.done, len(h.q.enqueued), h.sqs.sent)
		}
	})

	t.Run("a dead letter's message is cut at 1 KB, between characters; none when empty", func(t *testing.T) {
		h := newHarness(t, t0)
		f := function("f")
		f.Latest.DeadLetterTarget = queue
		h.put(t, f)
		for _, msg := range []string{strings.Repeat("é", 600), ""} {
			h.result = failed(msg)
			d := newDelivery(lambada.AsyncEvent{RequestID: "r", Function: "f", Accepted: t0, Attempts: 2})
			h.deliver(t, d)
		}
		if len(h.sqs.attrs) != 2 {
			t.Fatalf("%d dead letters", len(h.sqs.attrs))
		}
		got := h.sqs.attrs[0]["ErrorMessage"].StringValue
		if got != strings.Repeat("é", 512) || !utf8.ValidString(got) {
			t.Errorf("ErrorMessage of %d bytes, valid UTF-8 %v", len(got), utf8.ValidString(got))
		}
		if _, ok := h.sqs.attrs[1]["ErrorMessage"]; ok {
			t.Errorf("an empty ErrorMessage attribute")
		}
	})

	t.Run("closing abandons an invocation in flight to a later delivery", func(t *testing.T) {
		h := newHarness(t, t0)
		h.put(t, function("f"))
		h.result = func(e *lambada.AsyncEvent) (*lambada.Result, error) {
			<-h.closing
			return nil, context.Canceled
		}
		d := newDelivery(lambada.AsyncEvent{RequestID: "r", Function: "f", Accepted: t0})
		h.q.feed <- d
		<-h.ran
		close(h.closing)
		h.d.Close()
		if d.done || d.later != -1 {
			t.Fatalf("done=%v later=%v", d.done, d.later)
		}
	})

	t.Run("a delivery waiting for room is extended", func(t *testing.T) {
		h := newHarness(t, t0)
		h.d.Close()
		h.d = &Dispatcher{Queue: h.q, Functions: h.store, Runner: h.d.Runner, AckWait: 30 * time.Millisecond, MaxInFlight: 1, Now: h.d.Now}
		h.d.Open()
		t.Cleanup(func() { h.d.Close() })
		h.put(t, function("f"))
		release := make(chan struct{})
		var once sync.Once
		t.Cleanup(func() { once.Do(func() { close(release) }) })
		h.result = func(*lambada.AsyncEvent) (*lambada.Result, error) {
			<-release
			return &lambada.Result{Payload: []byte("null"), ExecutedVersion: "$LATEST"}, nil
		}
		first, second := newDelivery(lambada.AsyncEvent{RequestID: "1", Function: "f", Accepted: t0}), newDelivery(lambada.AsyncEvent{RequestID: "2", Function: "f", Accepted: t0})
		h.q.feed <- first
		<-h.ran
		h.q.feed <- second
		poll.Until(t, 10*time.Second, "the waiting delivery is extended", func() bool {
			second.mu.Lock()
			defer second.mu.Unlock()
			return second.extends >= 2
		})
		once.Do(func() { close(release) })
		<-first.settled
		<-second.settled
	})

	t.Run("a success goes to the Lambda destination as a new event", func(t *testing.T) {
		h := newHarness(t, t0)
		f := function("f")
		f.PutEventInvokeConfig(lambada.EventInvokeConfig{Qualifier: "$LATEST", OnSuccess: "arn:aws:lambda:us-east-1:000000000000:function:sink:live"})
		h.put(t, f)
		d := newDelivery(lambada.AsyncEvent{RequestID: "r", Function: "f", Accepted: t0, Payload: []byte(`{}`)})
		h.deliver(t, d)
		if !d.done || len(h.q.enqueued) != 1 {
			t.Fatalf("done=%v enqueued=%d", d.done, len(h.q.enqueued))
		}
		e := h.q.enqueued[0]
		want := `{"version":"1.0","timestamp":"2023-11-14T22:13:20.000Z","requestContext":{"requestId":"r","functionArn":"arn:aws:lambda:us-east-1:000000000000:function:f:$LATEST","condition":"Success","approximateInvokeCount":1},"requestPayload":{},"responseContext":{"statusCode":200,"executedVersion":"$LATEST"},"responsePayload":null}`
		if e.Function != "sink" || e.Qualifier != "live" || e.RequestID == "r" || string(e.Payload) != want {
			t.Fatalf("destination event %s:%s %s %s", e.Function, e.Qualifier, e.RequestID, e.Payload)
		}
	})

	// A function's records go to its own account's destinations only: its
	// Lambda destination runs in its account; another account's function
	// or queue gets nothing, and the record counts as lost.
	t.Run("destinations are the function's account's", func(t *testing.T) {
		h := newHarness(t, t0)
		f := function("f")
		f.Account = "111111111111"
		f.PutEventInvokeConfig(lambada.EventInvokeConfig{Qualifier: "$LATEST", OnSuccess: "arn:aws:lambda:us-east-1:111111111111:function:sink"})
		h.put(t, f)
		d := newDelivery(lambada.AsyncEvent{RequestID: "r", Function: "f", Account: "111111111111", Accepted: t0, Payload: []byte(`{}`)})
		h.deliver(t, d)
		if len(h.q.enqueued) != 1 || h.q.enqueued[0].Function != "sink" || h.q.enqueued[0].Account != "111111111111" {
			t.Fatalf("the destination event: %+v", h.q.enqueued)
		}

		g := function("g") // the node's own account
		g.PutEventInvokeConfig(lambada.EventInvokeConfig{Qualifier: "$LATEST", OnSuccess: "arn:aws:lambda:us-east-1:111111111111:function:sink"})
		g.Latest.DeadLetterTarget = "arn:aws:sqs:us-east-1:111111111111:dlq"
		h.put(t, g)
		h.deliver(t, newDelivery(lambada.AsyncEvent{RequestID: "s", Function: "g", Accepted: t0, Payload: []byte(`{}`)}))
		h.result = func(*lambada.AsyncEvent) (*lambada.Result, error) {
			return &lambada.Result{Payload: []byte(`{"errorMessage":"boom"}`), FunctionError: "Unhandled", ExecutedVersion: "$LATEST"}, nil
		}
		h.deliver(t, newDelivery(lambada.AsyncEvent{RequestID: "t", Function: "g", Accepted: t0, Attempts: 2, Payload: []byte(`{}`)}))
		h.meter.mu.Lock()
		defer h.meter.mu.Unlock()
		if len(h.q.enqueued) != 1 || len(h.sqs.sent) != 0 || h.meter.counts[lambada.MetricDestinationFailures] != 1 || h.meter.counts[lambada.MetricDeadLetterErrors] != 1 {
			t.Fatalf("another account's destination and dead-letter queue: enqueued %d, sent %q, counts %v", len(h.q.enqueued), h.sqs.sent, h.meter.counts)
		}
	})

	t.Run("a record without room for the response goes without it", func(t *testing.T) {
		h := newHarness(t, t0)
		f := function("f")
		f.PutEventInvokeConfig(lambada.EventInvokeConfig{Qualifier: "$LATEST", OnSuccess: "arn:aws:lambda:us-east-1:000000000000:function:sink"})
		h.put(t, f)
		big := []byte(`"` + strings.Repeat("x", 2<<20) + `"`)
		h.result = func(*lambada.AsyncEvent) (*lambada.Result, error) {
			return &lambada.Result{Payload: big, ExecutedVersion: "$LATEST"}, nil
		}
		d := newDelivery(lambada.AsyncEvent{RequestID: "r", Function: "f", Accepted: t0, Payload: []byte(`{}`)})
		h.deliver(t, d)
		if !d.done || len(h.q.enqueued) != 1 || len(h.q.enqueued[0].Payload) > lambada.MaxAsyncPayload ||
			strings.Contains(string(h.q.enqueued[0].Payload), "responsePayload") || !strings.Contains(string(h.q.enqueued[0].Payload), `"responseContext"`) {
			t.Fatalf("done=%v enqueued=%d", d.done, len(h.q.enqueued))
		}
	})

	t.Run("a dead letter the queue refuses is dropped, not retried", func(t *testing.T) {
		h := newHarness(t, t0)
		f := function("f")
		f.Latest.DeadLetterTarget = queue
		h.put(t, f)
		h.sqs.err = lambada.Errorf(lambada.EINVALID, "One or more parameters are invalid. Reason: Message must be shorter than 1048576 bytes.")
		h.result = func(*lambada.AsyncEvent) (*lambada.Result, error) {
			return &lambada.Result{Payload: []byte(`{}`), FunctionError: "Unhandled", ExecutedVersion: "$LATEST"}, nil
		}
		d := newDelivery(lambada.AsyncEvent{RequestID: "r", Function: "f", Accepted: t0, Attempts: 2})
		h.deliver(t, d)
		if !d.done {
			t.Fatalf("done=%v later=%v", d.done, d.later)
		}
	})

	t.Run("a dead-letter queue of another region is not this node's", func(t *testing.T) {
		h := newHarness(t, t0)
		f := function("f")
		f.Latest.DeadLetterTarget = "arn:aws:sqs:eu-west-1:000000000000:dlq"
		h.put(t, f)
		h.result = func(*lambada.AsyncEvent) (*lambada.Result, error) {
			return &lambada.Result{Payload: []byte(`{}`), FunctionError: "Unhandled", ExecutedVersion: "$LATEST"}, nil
		}
		d := newDelivery(lambada.AsyncEvent{RequestID: "r", Function: "f", Accepted: t0, Attempts: 2})
		h.deliver(t, d)
		if !d.done || len(h.sqs.sent) != 0 {
			t.Fatalf("done=%v sent=%q", d.done, h.sqs.sent)
		}
	})
}
