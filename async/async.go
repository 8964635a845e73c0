// Package async is the asynchronous dispatcher: it takes Event invocations
// from the durable queue, runs each through the same invocation service as
// synchronous calls, and carries out lambada.NextStep: done, retried after
// a function error, or put back after a throttle; and it hands results to
// the destinations and the dead-letter queue.
//
// It owns the goroutines that work on deliveries, nothing else: every piece
// of an event's state (its attempts, when it is due, whether it is being
// worked on) is in the queue, so that any node sharing the queue can take
// any event, and a node that dies mid-invocation loses nothing. It speaks
// no HTTP and starts no processes.
package async

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/lambada-dev/lambada"
	"github.com/lambada-dev/lambada/internal/every"
)

// Runner runs one attempt of an event (invoke.Service).
type Runner interface {
	RunEvent(ctx context.Context, e *lambada.AsyncEvent) (*lambada.Result, error)
}

// FunctionGetter reads function records from memory.
type FunctionGetter interface {
	Function(ctx context.Context, name string) (*lambada.Function, error)
}

// Sender stores a message in an SQS queue (jetstream.Queues).
type Sender interface {
	// Send returns once the message is stored, or ENOTFOUND when there is
	// no such queue.
	// Send stores a message in the queue whose AccountKey is queue.
	Send(ctx context.Context, queue string, body string, attrs map[string]lambada.MessageAttribute) error
}

// DefaultMaxInFlight bounds the deliveries one node works on at once.
const DefaultMaxInFlight = 1000

// maxErrorMessage is how much of an error message a dead letter carries.
const maxErrorMessage = 1024

// Dispatcher works on the queue's deliveries until Close.
type Dispatcher struct {
	Queue     lambada.EventQueue
	Functions FunctionGetter
	Runner    Runner
	Queues    Sender // nil: SQS destinations and dead-letter queues are not found

	Region, Account string

	// Scale multiplies AWS's retry delays, back-offs and maximum event age
	// (see lambada.AsyncPolicy); zero means 1.
	Scale float64
	// AckWait is the queue's acknowledgement wait: a delivery being worked
	// on is extended three times as often. Zero means 30 s.
	AckWait time.Duration
	// MaxInFlight bounds the deliveries worked on at once; zero means
	// DefaultMaxInFlight.
	MaxInFlight int

	Logger *slog.Logger
	Now    func() time.Time // time.Now when nil
	Meter  lambada.Meter    // hears AsyncEventAge, AsyncEventsDropped and the records lost; nil: none

	cancel context.CancelFunc
	done   chan struct{} // closed when Consume has returned
	work   sync.WaitGroup
	sem    chan struct{}

	throttled atomic.Int64
	lost      atomic.Int64
}

// Lost is how many records a destination or dead-letter queue could not
// take since Open.
func (d *Dispatcher) Lost() int64 { return d.lost.Load() }

// Throttled is how many attempts were not admitted (or failed in the
// platform) and went back to the queue since Open.
func (d *Dispatcher) Throttled() int64 { return d.throttled.Load() }

// Open starts consuming. The caller must Close the Dispatcher.
func (d *Dispatcher) Open() {
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.AckWait == 0 {
		d.AckWait = 30 * time.Second
	}
	if d.MaxInFlight == 0 {
		d.MaxInFlight = DefaultMaxInFlight
	}
	d.sem = make(chan struct{}, d.MaxInFlight)
	ctx, cancel := context.WithCancel(context.Background())
	d.cancel = cancel
	d.done = make(chan struct{})
	go func() {
		defer close(d.done)
		if err := d.Queue.Consume(ctx, func(qe lambada.QueuedEvent) { d.start(ctx, qe) }); err != nil {
			d.Logger.Error("asynchronous queue consumer stopped", "err", err)
		}
	}()
}

// Close stops taking deliveries and waits for those in work. Invocations in
// flight are abandoned, not finished: their events are delivered again
// (here after a restart, or on another node).
func (d *Dispatcher) Close() error {
	if d.cancel == nil {
		return nil
	}
	d.cancel()
	<-d.done
	d.work.Wait()
	return nil
}

// start works on qe in a goroutine of its own, once fewer than MaxInFlight
// are in work: a slow function's events never hold up another's. While it
// waits for room, qe is extended like a delivery in work. (It is called
// from Consume's callback, which returns before Consume does: Close's Wait
// cannot miss an Add.)
func (d *Dispatcher) start(ctx context.Context, qe lambada.QueuedEvent) {
	select {
	case d.sem <- struct{}{}:
	default:
		stop := d.extend(ctx, qe)
		select {
		case d.sem <- struct{}{}:
			stop()
		case <-ctx.Done():
			stop()
			return
		}
	}
	d.work.Add(1)
	go func() {
		defer d.work.Done()
		defer func() { <-d.sem }()
		d.dispatch(ctx, qe)
	}()
}

// dispatch runs one delivery and carries out the step that follows.
func (d *Dispatcher) dispatch(ctx context.Context, qe lambada.QueuedEvent) {
	e := qe.Event()
	key := e.Ref().Key(d.Account)
	log := d.Logger.With("request_id", e.RequestID, "function", key)
	fn, err := d.Functions.Function(ctx, key)
	if lambada.ErrorCode(err) == lambada.ENOTFOUND {
		log.Info("asynchronous event of a deleted function dropped")
		d.done1(ctx, qe, log)
		return
	} else if err != nil {
		log.Error("asynchronous event: read function", "err", err)
		return // delivered again after the acknowledgement wait
	}
	ecfg := fn.EventInvokeConfig(e.Ref().VersionOrLatest())
	policy := ecfg.Policy(d.Scale)
	now := d.Now()

	outcome, res := lambada.OutcomeNotDue, (*lambada.Result)(nil)
	switch {
	case e.NotBefore.After(now):
	case e.Expired(policy, now):
		d.finish(ctx, qe, fn, ecfg, lambada.ConditionEventAgeExceeded, nil, e.Attempts, log)
		return
	case fn.ReservedConcurrency != nil && *fn.ReservedConcurrency == 0:
		outcome = lambada.OutcomeZeroReserved
	default:
		d.meter().Observe(lambada.MetricAsyncEventAge, eventLabels(key, e), now.Sub(e.Accepted))
		stop := d.extend(ctx, qe)
		res, err = d.Runner.RunEvent(ctx, e)
		stop()
		if ctx.Err() != nil {
			return // closing: delivered again later
		}
		switch code := lambada.ErrorCode(err); {
		case err == nil && res.FunctionError == "":
			outcome = lambada.OutcomeSuccess
		case err == nil:
			outcome = lambada.OutcomeFunctionError
		case code == lambada.ETHROTTLED || code == lambada.ECONFLICT || code == lambada.EINTERNAL:
			outcome = lambada.OutcomeThrottled
			d.throttled.Add(1)
			log.Debug("asynchronous attempt not run; back to the queue", "err", err)
		default: // the version or alias is gone, or the event cannot run
			log.Warn("asynchronous event dropped", "err", err)
			d.done1(ctx, qe, log)
			return
		}
	}

	step := lambada.NextStep(*e, outcome, policy, d.Now())
	switch step.Kind {
	case lambada.StepLater:
		if err := qe.Later(ctx, step.Delay); err != nil {
			log.Warn("asynchronous event: put back", "err", err)
		}
	case lambada.StepRetry:
		// The retry is stored before this delivery goes: a failure here
		// leaves the event to run again, never lost.
		if err := d.Queue.Requeue(ctx, &step.Event); err != nil {
			log.Error("asynchronous event: store retry", "err", err)
			_ = qe.Later(ctx, policy.Backoff(e, d.Now()))
			return
		}
		d.done1(ctx, qe, log)
	case lambada.StepDone:
		invokes := e.Attempts
		if res != nil {
			invokes++
		}
		d.finish(ctx, qe, fn, ecfg, step.Condition, res, invokes, log)
	}
}

// extend tells the queue, three times per acknowledgement wait, that qe is
// still in work, until the returned stop is called.
func (d *Dispatcher) extend(ctx context.Context, qe lambada.QueuedEvent) (stop func()) {
	return every.Start(ctx, d.AckWait/3, func(ctx context.Context) {
		if err := qe.Extend(ctx); err != nil && ctx.Err() == nil {
			d.Logger.Debug("asynchronous event: extend", "request_id", qe.Event().RequestID, "err", err)
		}
	})
}

// done1 removes qe from the queue.
func (d *Dispatcher) done1(ctx context.Context, qe lambada.QueuedEvent, log *slog.Logger) {
	if err := qe.Done(ctx); err != nil {
		log.Warn("asynchronous event: acknowledge", "err", err)
	}
}

// finish sends the record of an event that leaves the queue with condition
// to its destinations and dead-letter queue, then removes it from the
// queue. A destination that cannot take the record after sendAttempts
// tries loses it, as on AWS (which counts it in its DeadLetterErrors and
// DestinationDeliveryFailures metrics): running the event again would
// break its retry count.
func (d *Dispatcher) finish(ctx context.Context, qe lambada.QueuedEvent, fn *lambada.Function, ecfg *lambada.EventInvokeConfig,
	condition string, res *lambada.Result, invokes int, log *slog.Logger) {
	e := qe.Event()
	arn := lambada.FunctionARN(d.Region, fn.AccountOr(d.Account), fn.Name, e.Ref().VersionOrLatest())
	record := lambada.NewDestinationRecord(e, arn, condition, invokes, res, d.Now())
	labels := eventLabels(fn.Key(), e)
	var errs []error
	// send sends with retries; a record lost counts in metric.
	send := func(metric lambada.Metric, f func() error) {
		err := d.retrySend(ctx, f)
		if err != nil && ctx.Err() == nil {
			d.meter().Count(metric, labels)
		}
		errs = append(errs, err)
	}
	if condition == lambada.ConditionSuccess {
		if ecfg != nil && ecfg.OnSuccess != "" {
			send(lambada.MetricDestinationFailures, func() error { return d.sendRecord(ctx, fn, ecfg.OnSuccess, record) })
		}
	} else {
		log.Info("asynchronous event failed", "condition", condition, "attempts", invokes)
		if target := deadLetterTarget(fn, e, res); target != "" {
			send(lambada.MetricDeadLetterErrors, func() error { return d.sendDeadLetter(ctx, fn, target, e, condition, res) })
		}
		if ecfg != nil && ecfg.OnFailure != "" {
			send(lambada.MetricDestinationFailures, func() error { return d.sendRecord(ctx, fn, ecfg.OnFailure, record) })
		}
	}
	if ctx.Err() != nil {
		return // closing: delivered again later
	}
	if condition != lambada.ConditionSuccess {
		d.meter().Count(lambada.MetricAsyncEventsDropped, labels)
	}
	for _, err := range errs {
		if err != nil {
			d.lost.Add(1)
			log.Error("asynchronous event: a destination could not take its record; the record is lost", "condition", condition, "err", err)
		}
	}
	d.done1(ctx, qe, log)
}

// meter is d.Meter, or one that hears nothing.
func (d *Dispatcher) meter() lambada.Meter {
	if d.Meter == nil {
		return lambada.NoMeter{}
	}
	return d.Meter
}

// eventLabels are the metric labels of e, of the function whose
// AccountKey is key.
func eventLabels(key string, e *lambada.AsyncEvent) lambada.MetricLabels {
	return lambada.NewMetricLabels(key, e.Qualifier, "")
}

// sendAttempts bounds the tries of one destination; retryPause is the
// pause after the first failed try, doubled after each.
const (
	sendAttempts = 3
	retryPause   = 100 * time.Millisecond
)

// retrySend calls send until it succeeds, fails for good (the destination
// does not exist, or refuses what it is sent: a message over its queue's
// size), or has failed sendAttempts times.
func (d *Dispatcher) retrySend(ctx context.Context, send func() error) error {
	pause := retryPause
	for i := 1; ; i++ {
		err := send()
		switch code := lambada.ErrorCode(err); {
		case err == nil, code == lambada.ENOTFOUND, code == lambada.EINVALID, code == lambada.ETOOLARGE, i == sendAttempts:
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(pause):
		}
		pause *= 2
	}
}

// deadLetterTarget is the dead-letter queue of the version that ran (or,
// when none ran, that the event's qualifier resolves to).
func deadLetterTarget(fn *lambada.Function, e *lambada.AsyncEvent, res *lambada.Result) string {
	var cfg *lambada.FunctionConfig
	if res != nil {
		cfg = fn.Version(res.ExecutedVersion)
	}
	if cfg == nil {
		cfg, _ = fn.Resolve(e.Qualifier, 0)
	}
	if cfg == nil {
		return ""
	}
	return cfg.DeadLetterTarget
}

// sendRecord delivers a destination record: as the event of an Event
// invocation of a function, or as the body of an SQS message.
func (d *Dispatcher) sendRecord(ctx context.Context, fn *lambada.Function, dest string, record lambada.DestinationRecord) error {
	body, err := json.Marshal(record)
	if err != nil {
		return err
	}
	// A response of up to 6 MB does not fit an event or a message of
	// 1 MiB: the record then goes without it.
	if len(body) > lambada.MaxAsyncPayload && record.ResponsePayload != nil {
		record.ResponsePayload = nil
		if body, err = json.Marshal(record); err != nil {
			return err
		}
	}
	switch kind, ref := lambada.ParseDestination(dest); kind {
	case lambada.DestinationLambda:
		// A destination is a function of the function's own account.
		if ref.Region != d.Region || ref.Account != fn.AccountOr(d.Account) {
			return lambada.Errorf(lambada.ENOTFOUND, "no such function of %s on this node: %s", fn.AccountOr(d.Account), dest)
		}
		return d.Queue.Requeue(ctx, &lambada.AsyncEvent{
			RequestID: uuid.NewString(),
			Function:  ref.Name,
			Account:   fn.Account,
			Qualifier: ref.Qualifier,
			Payload:   body,
			Accepted:  d.Now(),
		})
	case lambada.DestinationSQS:
		return d.send(ctx, fn, dest, string(body), nil)
	}
	return lambada.Errorf(lambada.ENOTFOUND, "unsupported destination %s", dest)
}

// sendDeadLetter sends the original event to an SQS dead-letter queue with
// the attributes AWS gives it.
func (d *Dispatcher) sendDeadLetter(ctx context.Context, fn *lambada.Function, target string, e *lambada.AsyncEvent, condition string, res *lambada.Result) error {
	code, msg := "429", condition
	if res != nil {
		code, msg = "200", errorMessage(res.Payload)
	}
	attrs := map[string]lambada.MessageAttribute{
		"RequestID": {DataType: "String", StringValue: e.RequestID},
		"ErrorCode": {DataType: "Number", StringValue: code},
	}
	// SQS refuses an empty attribute: an error without a message has none.
	if msg = truncate(msg, maxErrorMessage); msg != "" {
		attrs["ErrorMessage"] = lambada.MessageAttribute{DataType: "String", StringValue: msg}
	}
	return d.send(ctx, fn, target, string(e.Payload), attrs)
}

// truncate cuts s to at most n bytes, at the start of a character.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// send sends to queueARN, a queue of fn's own account: a function's
// dead letters and destination records never go to another account's
// queue.
func (d *Dispatcher) send(ctx context.Context, fn *lambada.Function, queueARN, body string, attrs map[string]lambada.MessageAttribute) error {
	region, account, name, err := lambada.ParseQueueARN(queueARN)
	if d.Queues == nil || err != nil || region != d.Region || account != fn.AccountOr(d.Account) {
		return lambada.Errorf(lambada.ENOTFOUND, "no such SQS queue of %s on this node: %s", fn.AccountOr(d.Account), queueARN)
	}
	return d.Queues.Send(ctx, lambada.AccountKey(d.Account, account, name), body, attrs)
}

// errorMessage is the errorMessage of a function's error payload, or the
// payload itself.
func errorMessage(payload []byte) string {
	var p struct {
		ErrorMessage *string `json:"errorMessage"`
	}
	if err := json.Unmarshal(payload, &p); err == nil && p.ErrorMessage != nil {
		return *p.ErrorMessage
	}
	return string(payload)
}
