// Package every calls a function periodically from a goroutine its caller
// owns: Start returns the stop that ends it and waits for it.
package every

import (
	"context"
	"time"
)

// Start calls f every period from a goroutine of its own until ctx is done
// or the returned stop is called; stop waits for a call under way. The
// context f gets ends with stop.
func Start(ctx context.Context, period time.Duration, f func(ctx context.Context)) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(period)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if ctx.Err() != nil { // a tick and the end at once: the end wins
					return
				}
				f(ctx)
			}
		}
	}()
	return func() { cancel(); <-done }
}
