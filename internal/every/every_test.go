package every_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lambada-dev/lambada/internal/every"
	"github.com/lambada-dev/lambada/internal/poll"
)

// f runs every period until stop, and stop returns only once a call under
// way has ended.
func TestStart(t *testing.T) {
	var calls atomic.Int64
	var running, finished atomic.Bool
	release := make(chan struct{})
	stop := every.Start(context.Background(), time.Millisecond, func(ctx context.Context) {
		if calls.Add(1) == 3 {
			running.Store(true)
			<-ctx.Done() // stop was called
			<-release    // and still waits for this call
			finished.Store(true)
		}
	})
	poll.Until(t, 10*time.Second, "the third call", func() bool { return running.Load() })
	stopped := make(chan struct{})
	go func() { stop(); close(stopped) }()
	close(release)
	<-stopped
	if !finished.Load() {
		t.Fatal("stop returned while a call was under way")
	}
	if n := calls.Load(); n != 3 {
		t.Fatalf("%d calls, want 3: one started after stop", n)
	}
}

// The context a call gets ends with the parent's.
func TestStart_ParentContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	started, ended := make(chan struct{}), make(chan struct{})
	var once atomic.Bool
	stop := every.Start(ctx, time.Millisecond, func(ctx context.Context) {
		if !once.CompareAndSwap(false, true) {
			return
		}
		close(started)
		<-ctx.Done()
		close(ended)
	})
	<-started
	cancel()
	<-ended
	stop()
}
