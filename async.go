package lambada

import (
	"context"
	"encoding/json"
	"time"
)

// Asynchronous invocation (docs/aws-behaviour.md §12): an Event invocation is
// stored in a durable queue and answered 202; a dispatcher runs it at least
// once, retries function errors MaximumRetryAttempts times, puts throttled
// and failed-by-the-platform attempts back with a growing delay, and gives
// up on an event older than MaximumEventAgeInSeconds. What happens next is
// decided by Step, a pure function; the queue and the dispatcher only carry
// it out.

// Defaults and bounds of an EventInvokeConfig, in AWS's units.
const (
	DefaultRetryAttempts = 2     // MaximumRetryAttempts when none is configured
	MaxRetryAttempts     = 2     // highest MaximumRetryAttempts
	DefaultMaxEventAge   = 21600 // seconds: MaximumEventAgeInSeconds when none is configured
	MinMaxEventAge       = 60    // seconds
	MaxMaxEventAge       = 21600 // seconds
)

// Delays of the asynchronous queue, before scaling (see AsyncPolicy.Scale).
const (
	FirstRetryDelay  = time.Minute     // after the first function error
	SecondRetryDelay = 2 * time.Minute // after the second
	MinBackoff       = time.Second     // the first delay after a throttle or a system error
	MaxBackoff       = 5 * time.Minute // the longest
)

// Conditions of a destination record's requestContext: why the event left
// the queue.
const (
	ConditionSuccess          = "Success"
	ConditionRetriesExhausted = "RetriesExhausted"
	ConditionEventAgeExceeded = "EventAgeExceeded"
	ConditionZeroReserved     = "ZeroReservedConcurrency"
)

// AsyncEvent is one accepted Event invocation as the queue keeps it: the
// event and everything the dispatcher needs to decide its next step. Its
// fields travel with the queued message, so that any node can take it.
type AsyncEvent struct {
	RequestID string    // x-amzn-RequestId of the Event invocation, the id of every attempt
	Function  string    // the function's name
	Account   string    // its account when not the node's own
	Qualifier string    // the version or alias invoked; "" for the unqualified function
	Payload   []byte    // the checked event
	Accepted  time.Time // when it was stored: its age counts from here
	// Attempts is how many attempts ended in a function error so far.
	Attempts int
	// NotBefore is when the next attempt may start (a retry's delay); zero
	// means at once.
	NotBefore time.Time
}

// Ref is the function reference the event was invoked with.
func (e *AsyncEvent) Ref() FunctionRef {
	return FunctionRef{Name: e.Function, Account: e.Account, Qualifier: e.Qualifier}
}

// Outcome is how one delivery of an AsyncEvent ended.
type Outcome int

const (
	// OutcomeSuccess: the function answered without error.
	OutcomeSuccess Outcome = iota
	// OutcomeFunctionError: the function failed (error, timeout, exit, out
	// of memory): the attempt counts.
	OutcomeFunctionError
	// OutcomeThrottled: the invocation was not admitted (429) or the
	// platform failed to run it (a system error): the attempt does not
	// count.
	OutcomeThrottled
	// OutcomeZeroReserved: the function's reserved concurrency is 0.
	OutcomeZeroReserved
	// OutcomeNotDue: the event was delivered before its NotBefore.
	OutcomeNotDue
)

// AsyncPolicy is what Step applies: the EventInvokeConfig in force for the
// event (its zero value meaning AWS's defaults) and the time scale.
type AsyncPolicy struct {
	MaximumRetryAttempts     *int
	MaximumEventAgeInSeconds *int
	// Scale multiplies every delay and the maximum age; zero means 1. A
	// test node runs with 0.01, turning a minute into 0.6 s.
	Scale float64
}

func (p AsyncPolicy) scaled(d time.Duration) time.Duration {
	if p.Scale == 0 || p.Scale == 1 {
		return d
	}
	return time.Duration(float64(d) * p.Scale)
}

// Retries is how many attempts after the first a function error earns.
func (p AsyncPolicy) Retries() int {
	if p.MaximumRetryAttempts != nil {
		return *p.MaximumRetryAttempts
	}
	return DefaultRetryAttempts
}

// MaxAge is how long an event may wait, scaled.
func (p AsyncPolicy) MaxAge() time.Duration {
	age := DefaultMaxEventAge
	if p.MaximumEventAgeInSeconds != nil {
		age = *p.MaximumEventAgeInSeconds
	}
	return p.scaled(time.Duration(age) * time.Second)
}

// Backoff is the delay before the next try of e, throttled at now: as long
// as e has waited since it was due (accepted, or its retry's NotBefore),
// at least 1 s and at most 5 min, scaled. Tries in a row thus wait 1 s,
// 1 s, 2 s, 4 s … 5 min, the back-off doubling without a count to keep:
// the queue's delivery count also counts deliveries that were no throttle.
func (p AsyncPolicy) Backoff(e *AsyncEvent, now time.Time) time.Duration {
	waited := now.Sub(e.Accepted)
	if !e.NotBefore.IsZero() {
		waited = now.Sub(e.NotBefore)
	}
	return min(max(waited, p.scaled(MinBackoff)), p.scaled(MaxBackoff))
}

// StepKind says what to do with an event after a delivery.
type StepKind int

const (
	// StepDone: the event leaves the queue; Condition says why (Success,
	// RetriesExhausted, EventAgeExceeded, ZeroReservedConcurrency) and
	// Destination whether it counts as a success or a failure.
	StepDone StepKind = iota
	// StepRetry: store the event again with Attempts and NotBefore as
	// given in Event, then remove this delivery.
	StepRetry
	// StepLater: leave the event in the queue, to be delivered again after
	// Delay (the attempt did not count).
	StepLater
)

// Step is the dispatcher's next move for one event.
type Step struct {
	Kind      StepKind
	Condition string        // StepDone
	Event     AsyncEvent    // StepRetry: the event to store again
	Delay     time.Duration // StepLater
}

// Failed reports whether a StepDone goes to the failure destinations.
func (s Step) Failed() bool { return s.Kind == StepDone && s.Condition != ConditionSuccess }

// NextStep decides what follows a delivery of e that ended with outcome at
// time now.
func NextStep(e AsyncEvent, outcome Outcome, p AsyncPolicy, now time.Time) Step {
	switch outcome {
	case OutcomeSuccess:
		return Step{Kind: StepDone, Condition: ConditionSuccess}
	case OutcomeZeroReserved:
		return Step{Kind: StepDone, Condition: ConditionZeroReserved}
	case OutcomeNotDue:
		return Step{Kind: StepLater, Delay: e.NotBefore.Sub(now)}
	}
	deadline := e.Accepted.Add(p.MaxAge())
	if outcome == OutcomeFunctionError {
		e.Attempts++
		if e.Attempts > p.Retries() {
			return Step{Kind: StepDone, Condition: ConditionRetriesExhausted}
		}
		delay := p.scaled(FirstRetryDelay)
		if e.Attempts > 1 {
			delay = p.scaled(SecondRetryDelay)
		}
		e.NotBefore = now.Add(delay)
		if !e.NotBefore.Before(deadline) {
			return Step{Kind: StepDone, Condition: ConditionEventAgeExceeded}
		}
		return Step{Kind: StepRetry, Event: e}
	}
	delay := p.Backoff(&e, now)
	if !now.Add(delay).Before(deadline) {
		return Step{Kind: StepDone, Condition: ConditionEventAgeExceeded}
	}
	return Step{Kind: StepLater, Delay: delay}
}

// Expired reports whether e is older than p allows at now: it is given up
// before it runs again.
func (e *AsyncEvent) Expired(p AsyncPolicy, now time.Time) bool {
	return !now.Before(e.Accepted.Add(p.MaxAge()))
}

// DestinationRecord is what an OnSuccess or OnFailure destination receives
// (docs/aws-behaviour.md §12.3).
type DestinationRecord struct {
	Version         string           `json:"version"`
	Timestamp       string           `json:"timestamp"`
	RequestContext  RecordContext    `json:"requestContext"`
	RequestPayload  json.RawMessage  `json:"requestPayload"`
	ResponseContext *ResponseContext `json:"responseContext,omitempty"`
	ResponsePayload json.RawMessage  `json:"responsePayload,omitempty"`
}

// RecordContext is a destination record's requestContext.
type RecordContext struct {
	RequestID              string `json:"requestId"`
	FunctionARN            string `json:"functionArn"` // always qualified
	Condition              string `json:"condition"`
	ApproximateInvokeCount int    `json:"approximateInvokeCount"`
}

// ResponseContext is a destination record's responseContext.
type ResponseContext struct {
	StatusCode      int    `json:"statusCode"`
	ExecutedVersion string `json:"executedVersion"`
	FunctionError   string `json:"functionError,omitempty"`
}

// NewDestinationRecord builds the record of e leaving the queue with
// condition after invokes attempts; res is the last attempt's result (nil
// when the function never ran, as for ZeroReservedConcurrency).
// functionARN is the qualified ARN of the version or alias invoked.
func NewDestinationRecord(e *AsyncEvent, functionARN, condition string, invokes int, res *Result, at time.Time) DestinationRecord {
	r := DestinationRecord{
		Version:   "1.0",
		Timestamp: at.UTC().Format("2006-01-02T15:04:05.000Z"),
		RequestContext: RecordContext{
			RequestID:              e.RequestID,
			FunctionARN:            functionARN,
			Condition:              condition,
			ApproximateInvokeCount: invokes,
		},
		RequestPayload: json.RawMessage(e.Payload),
	}
	if res != nil {
		r.ResponseContext = &ResponseContext{StatusCode: 200, ExecutedVersion: res.ExecutedVersion, FunctionError: res.FunctionError}
		if json.Valid(res.Payload) {
			r.ResponsePayload = json.RawMessage(res.Payload)
		} else {
			r.ResponsePayload, _ = json.Marshal(string(res.Payload))
		}
	}
	return r
}

// EventQueue keeps accepted asynchronous events durably until they are done
// with. Implementations: jetstream (a stream every node of a cluster shares).
type EventQueue interface {
	// Enqueue stores a newly accepted event and returns once the store
	// has acknowledged it. A queue nearly full answers an Error (the event
	// was not accepted): the rest is Requeue's.
	Enqueue(ctx context.Context, e *AsyncEvent) error

	// Requeue stores an event's retry, or a destination's record, as
	// Enqueue does but into the room Enqueue leaves.
	Requeue(ctx context.Context, e *AsyncEvent) error

	// Consume hands every due event to handle, one call per delivery, until
	// ctx is done. handle must not block for long: it starts the work and
	// returns. An event not finished (Done or Later) within the queue's
	// acknowledgement wait, or whose Extend stops, is delivered again.
	Consume(ctx context.Context, handle func(QueuedEvent)) error
}

// QueuedEvent is one delivery of a stored event.
type QueuedEvent interface {
	// Event is the stored event.
	Event() *AsyncEvent
	// Done removes the event from the queue.
	Done(ctx context.Context) error
	// Later leaves the event in the queue, to be delivered again after
	// delay.
	Later(ctx context.Context, delay time.Duration) error
	// Extend tells the queue the event is still being worked on.
	Extend(ctx context.Context) error
}
