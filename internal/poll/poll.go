// Package poll is how the tests wait for what another goroutine or process
// does: a condition checked every few milliseconds until it holds or a
// deadline passes. No test sleeps for a fixed time.
package poll

import (
	"testing"
	"time"
)

// interval is how often a condition is checked.
const interval = 2 * time.Millisecond

// Until checks cond until it returns true, and fails tb when it still has
// not after timeout. what names the condition in the failure.
func Until(tb testing.TB, timeout time.Duration, what string, cond func() bool) {
	tb.Helper()
	if !Wait(timeout, cond) {
		tb.Fatalf("timed out after %v waiting until %s", timeout, what)
	}
}

// Wait checks cond until it returns true and reports whether it did before
// timeout.
func Wait(timeout time.Duration, cond func() bool) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline.C:
			return cond()
		case <-tick.C:
		}
	}
	return true
}

// Receive waits for a value on ch and returns it, and fails tb when none
// came within timeout. what names the value in the failure.
func Receive[T any](tb testing.TB, timeout time.Duration, what string, ch <-chan T) T {
	tb.Helper()
	var v T
	Until(tb, timeout, what, func() bool {
		select {
		case v = <-ch:
			return true
		default:
			return false
		}
	})
	return v
}
