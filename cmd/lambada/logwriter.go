package main

import (
	"io"
	"sync"
)

// maxPendingLog bounds what a logWriter holds: a writer that falls that far
// behind makes its callers wait.
const maxPendingLog = 1 << 20

// logWriter is the server log's writer: it writes behind its callers, from
// a goroutine of its own, so that no request waits for the log's file, and
// what is written while a write is under way goes out in one write after it
// (every warm invocation logs three lines). Order is kept; nothing waits
// longer than the write before it. Close writes what is left and stops the
// goroutine; later writes go straight to the file.
type logWriter struct {
	w io.Writer

	mu      sync.Mutex
	room    sync.Cond // signalled when pending shrinks
	pending []byte
	closed  bool
	wake    chan struct{} // capacity 1
	done    chan struct{}
}

func newLogWriter(w io.Writer) *logWriter {
	l := &logWriter{w: w, wake: make(chan struct{}, 1), done: make(chan struct{})}
	l.room.L = &l.mu
	go l.run()
	return l
}

// Write queues p. It fails only after Close, with the file's error.
func (l *logWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	for !l.closed && len(l.pending) >= maxPendingLog {
		l.room.Wait()
	}
	if l.closed {
		l.mu.Unlock()
		<-l.done // after what was pending
		return l.w.Write(p)
	}
	l.pending = append(l.pending, p...)
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
	return len(p), nil
}

func (l *logWriter) run() {
	defer close(l.done)
	var out []byte
	for {
		l.mu.Lock()
		for len(l.pending) == 0 && !l.closed {
			l.mu.Unlock()
			<-l.wake
			l.mu.Lock()
		}
		if len(l.pending) == 0 { // closed, all written
			l.mu.Unlock()
			return
		}
		out, l.pending = l.pending, out[:0]
		l.room.Broadcast()
		l.mu.Unlock()
		_, _ = l.w.Write(out) // a log that cannot be written has nowhere to say so
	}
}

// Close writes what is pending and stops the writer's goroutine.
func (l *logWriter) Close() error {
	l.mu.Lock()
	l.closed = true
	l.room.Broadcast()
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
	<-l.done
	return nil
}
