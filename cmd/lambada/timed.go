package main

import (
	"context"
	"time"

	"github.com/lambada-dev/lambada"
)

// storeTimer hears how long a write to the store took (metrics.Metrics).
type storeTimer interface {
	ObserveStore(operation string, d time.Duration)
}

// timedFunctions is a FunctionStore whose writes are timed.
type timedFunctions struct {
	lambada.FunctionStore
	timer storeTimer
}

func (s timedFunctions) PutFunction(ctx context.Context, f *lambada.Function) (uint64, error) {
	defer s.time("PutFunction", time.Now())
	return s.FunctionStore.PutFunction(ctx, f)
}

func (s timedFunctions) DeleteFunction(ctx context.Context, key string) error {
	defer s.time("DeleteFunction", time.Now())
	return s.FunctionStore.DeleteFunction(ctx, key)
}

func (s timedFunctions) time(operation string, start time.Time) {
	s.timer.ObserveStore(operation, time.Since(start))
}

// enqueuer stores accepted asynchronous events (jetstream.EventQueue).
type enqueuer interface {
	Enqueue(ctx context.Context, e *lambada.AsyncEvent) error
}

// timedEvents is an event queue whose Enqueue is timed.
type timedEvents struct {
	enqueuer
	timer storeTimer
}

func (q timedEvents) Enqueue(ctx context.Context, e *lambada.AsyncEvent) error {
	start := time.Now()
	err := q.enqueuer.Enqueue(ctx, e)
	q.timer.ObserveStore("Enqueue", time.Since(start))
	return err
}
