package jetstream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/lambada-dev/lambada"
	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"
)

var _ lambada.EventQueue = (*EventQueue)(nil)

// Names of the asynchronous queue.
const (
	EventsStream    = "lambada_events"  // work queue of accepted Event invocations
	eventsSubject   = "lambada.events." // + function name
	eventsConsumer  = "dispatcher"      // the one durable consumer every node pulls from
	keepSubject     = "lambada.keep"    // the stream's keepers (see keep)
	DefaultEventCap = 1 << 30           // bytes the queue may hold by default
)

// Headers of a queued event; the message's data is the event itself.
const (
	hdrRequestID = "Lambada-Request-Id"
	hdrQualifier = "Lambada-Qualifier"
	hdrAccount   = "Lambada-Account"    // the function's account, when not the node's own
	hdrAccepted  = "Lambada-Accepted"   // unix nanoseconds
	hdrAttempts  = "Lambada-Attempts"   // function errors so far
	hdrNotBefore = "Lambada-Not-Before" // unix nanoseconds
)

// DefaultAckWait is how long a delivered event may go without news from its
// dispatcher before the queue delivers it again (to this node or another).
const DefaultAckWait = 30 * time.Second

// EventQueue keeps asynchronous events in a JetStream stream with work-queue
// retention (subject lambada.events.<function>), delivered through one
// durable pull consumer that every node shares. Every piece of dispatch
// state is in the stream: the event's attempts and due time travel in its
// headers, its deliveries are the consumer's count, and an event being
// worked on is one the consumer is waiting for an acknowledgement of. A
// node that dies mid-invocation loses nothing: its events come back after
// the acknowledgement wait.
type EventQueue struct {
	js      natsjs.JetStream
	stream  natsjs.Stream
	cons    natsjs.Consumer
	ackWait time.Duration
	logger  *slog.Logger

	stop context.CancelFunc // stops keep
	done chan struct{}      // closed when keep has returned

	// acceptBytes is the fill (90% of the stream's limit) beyond which
	// Enqueue refuses new events: the rest is room for Requeue's retries
	// and records, which replace or follow events already accepted.
	acceptBytes uint64
	full        atomic.Bool // the stream held more than acceptBytes when last read
}

// openEventQueue creates or opens the stream (holding at most maxBytes;
// beyond that Enqueue fails) and its consumer.
func openEventQueue(ctx context.Context, js natsjs.JetStream, maxBytes int64, ackWait time.Duration, replicas int, logger *slog.Logger) (*EventQueue, error) {
	if maxBytes <= 0 {
		maxBytes = DefaultEventCap
	}
	if ackWait <= 0 {
		ackWait = DefaultAckWait
	}
	stream, err := js.CreateOrUpdateStream(ctx, natsjs.StreamConfig{
		Name:        EventsStream,
		Description: "Lambada asynchronous invocations",
		Subjects:    []string{eventsSubject + ">", keepSubject},
		Retention:   natsjs.WorkQueuePolicy,
		Storage:     natsjs.FileStorage,
		MaxBytes:    maxBytes,
		Discard:     natsjs.DiscardNew,
		Duplicates:  2 * time.Minute,
		Replicas:    replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("jetstream: stream %s: %w", EventsStream, err)
	}
	// In a cluster the consumer's own group may be electing its leader (a
	// node restarted): the request is tried again, as creations are.
	cons, err := retry(ctx, func(ctx context.Context) (natsjs.Consumer, error) {
		return stream.CreateOrUpdateConsumer(ctx, natsjs.ConsumerConfig{
			Durable:       eventsConsumer,
			Description:   "Lambada's asynchronous dispatchers",
			AckPolicy:     natsjs.AckExplicitPolicy,
			AckWait:       ackWait,
			MaxDeliver:    -1,
			MaxAckPending: 1 << 20,
			FilterSubject: eventsSubject + ">",
		})
	})
	if err != nil {
		return nil, fmt.Errorf("jetstream: consumer %s: %w", eventsConsumer, err)
	}
	// Keepers left by an earlier run go; this node's own start at once.
	if err := retryErr(ctx, func(ctx context.Context) error { return stream.Purge(ctx, natsjs.WithPurgeSubject(keepSubject)) }); err != nil {
		return nil, fmt.Errorf("jetstream: stream %s: purge keepers: %w", EventsStream, err)
	}
	q := &EventQueue{js: js, stream: stream, cons: cons, ackWait: ackWait, logger: logger, done: make(chan struct{}),
		acceptBytes: uint64(maxBytes) / 10 * 9}
	var keepCtx context.Context
	keepCtx, q.stop = context.WithCancel(context.WithoutCancel(ctx))
	go q.keep(keepCtx)
	return q, nil
}

// How often a node publishes a new keeper, and reads how full the stream
// is.
const (
	keeperEvery = time.Second
	fullEvery   = 50 * time.Millisecond
)

// keep publishes a keeper, a message no consumer takes, every keeperEvery
// and deletes the one before, until ctx is done. The file store deletes a
// block that empties and makes a new file for the next message: without a
// keeper in the newest block, acknowledging the last queued event cost a
// file deletion and creation, which made accepting an event at concurrency
// 1 take 260 µs instead of 170 µs (a function with reserved concurrency 0,
// this machine).
//
// Meanwhile it reads, every fullEvery, whether the stream holds more than
// acceptBytes (see Enqueue).
func (q *EventQueue) keep(ctx context.Context) {
	defer close(q.done)
	var last uint64
	keeper := time.NewTicker(keeperEvery)
	defer keeper.Stop()
	full := time.NewTicker(fullEvery)
	defer full.Stop()
	for {
		ack, err := q.js.Publish(ctx, keepSubject, nil)
		switch {
		case err == nil:
			if last != 0 {
				_ = q.stream.DeleteMsg(ctx, last)
			}
			last = ack.Sequence
		case ctx.Err() == nil:
			q.logger.Debug("publish keeper", "err", err)
		}
	wait:
		for {
			select {
			case <-ctx.Done():
				return
			case <-keeper.C:
				break wait
			case <-full.C:
				if info, err := q.stream.Info(ctx); err == nil {
					q.full.Store(info.State.Bytes >= q.acceptBytes)
				}
			}
		}
	}
}

// Close stops publishing keepers.
func (q *EventQueue) Close() error {
	q.stop()
	<-q.done
	return nil
}

// AckWait is how long a delivery may go without Extend before it is
// delivered again.
func (q *EventQueue) AckWait() time.Duration { return q.ackWait }

// errFull is the answer to an event the queue has no room for.
var errFull = lambada.Errorf(lambada.EINTERNAL, "The asynchronous invocation queue is full: the event was not accepted.")

// Enqueue stores a newly accepted event, unless the stream is more than
// 90% full (read at most fullEvery ago): the last tenth is kept for
// Requeue.
func (q *EventQueue) Enqueue(ctx context.Context, e *lambada.AsyncEvent) error {
	if q.full.Load() {
		return errFull
	}
	return q.Requeue(ctx, e)
}

// Requeue stores e, a retry or a destination's record, up to the stream's
// limit; it waits for the stream's acknowledgement. The message id
// (request id and attempt) makes a repeated publish of the same attempt a
// no-op within two minutes.
func (q *EventQueue) Requeue(ctx context.Context, e *lambada.AsyncEvent) error {
	m := nats.NewMsg(eventsSubject + e.Function)
	m.Data = e.Payload
	h := m.Header
	h.Set(hdrRequestID, e.RequestID)
	if e.Qualifier != "" {
		h.Set(hdrQualifier, e.Qualifier)
	}
	if e.Account != "" {
		h.Set(hdrAccount, e.Account)
	}
	h.Set(hdrAccepted, strconv.FormatInt(e.Accepted.UnixNano(), 10))
	if e.Attempts > 0 {
		h.Set(hdrAttempts, strconv.Itoa(e.Attempts))
	}
	if !e.NotBefore.IsZero() {
		h.Set(hdrNotBefore, strconv.FormatInt(e.NotBefore.UnixNano(), 10))
	}
	h.Set(nats.MsgIdHdr, e.RequestID+"/"+strconv.Itoa(e.Attempts))
	if _, err := q.js.PublishMsg(ctx, m); err != nil {
		// The stream's byte limit (error 10077, "maximum bytes exceeded")
		// and a full disk (10023, "insufficient resources") both answer 503.
		var apiErr *natsjs.APIError
		if errors.As(err, &apiErr) && apiErr.Code == 503 {
			return errFull
		}
		return fmt.Errorf("jetstream: enqueue %s: %w", e.RequestID, err)
	}
	return nil
}

// pullMax bounds the deliveries a node holds before handing them to
// Consume's callback: those wait unextended while the dispatcher is full.
const pullMax = 64

// Consume delivers events to handle until ctx is done.
func (q *EventQueue) Consume(ctx context.Context, handle func(lambada.QueuedEvent)) error {
	cc, err := q.cons.Consume(func(m natsjs.Msg) {
		d, err := decodeDelivery(m)
		if err != nil {
			q.logger.Error("undecodable queued event; dropped", "subject", m.Subject(), "err", err)
			_ = m.Term()
			return
		}
		handle(d)
	}, natsjs.PullMaxMessages(pullMax), natsjs.ConsumeErrHandler(func(_ natsjs.ConsumeContext, err error) {
		if ctx.Err() == nil && !errors.Is(err, natsjs.ErrNoHeartbeat) {
			q.logger.Debug("event consumer", "err", err)
		}
	}))
	if err != nil {
		return fmt.Errorf("jetstream: consume %s: %w", EventsStream, err)
	}
	<-ctx.Done()
	cc.Drain()
	<-cc.Closed()
	return nil
}

// Pending returns how many events are stored and not yet delivered, and how
// many are delivered and not yet done.
func (q *EventQueue) Pending(ctx context.Context) (waiting, working int, err error) {
	info, err := q.cons.Info(ctx)
	if err != nil {
		return 0, 0, err
	}
	return int(info.NumPending), info.NumAckPending, nil
}

// delivery is one delivery of a queued event.
type delivery struct {
	m natsjs.Msg
	e lambada.AsyncEvent
}

var _ lambada.QueuedEvent = (*delivery)(nil)

func decodeDelivery(m natsjs.Msg) (*delivery, error) {
	h := m.Headers()
	d := &delivery{m: m}
	var err error
	d.e.RequestID = h.Get(hdrRequestID)
	d.e.Function = m.Subject()[len(eventsSubject):]
	d.e.Qualifier = h.Get(hdrQualifier)
	d.e.Account = h.Get(hdrAccount)
	d.e.Payload = m.Data()
	nanos := func(k string) (time.Time, error) {
		v := h.Get(k)
		if v == "" {
			return time.Time{}, nil
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return time.Time{}, fmt.Errorf("header %s: %w", k, err)
		}
		return time.Unix(0, n), nil
	}
	if d.e.Accepted, err = nanos(hdrAccepted); err != nil {
		return nil, err
	}
	if d.e.NotBefore, err = nanos(hdrNotBefore); err != nil {
		return nil, err
	}
	if v := h.Get(hdrAttempts); v != "" {
		if d.e.Attempts, err = strconv.Atoi(v); err != nil {
			return nil, fmt.Errorf("header %s: %w", hdrAttempts, err)
		}
	}
	if d.e.RequestID == "" || d.e.Accepted.IsZero() {
		return nil, errors.New("missing request id or acceptance time")
	}
	return d, nil
}

func (d *delivery) Event() *lambada.AsyncEvent { return &d.e }
func (d *delivery) Done(context.Context) error { return d.m.Ack() }
func (d *delivery) Extend(context.Context) error {
	return d.m.InProgress()
}

func (d *delivery) Later(_ context.Context, delay time.Duration) error {
	return d.m.NakWithDelay(max(delay, time.Millisecond))
}
