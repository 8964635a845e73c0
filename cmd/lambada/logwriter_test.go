package main

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
)

// slowWriter records writes and can hold them until released.
type slowWriter struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	writes  int
	release chan struct{} // nil: never hold
}

func (w *slowWriter) Write(p []byte) (int, error) {
	if w.release != nil {
		<-w.release
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.writes++
	return w.buf.Write(p)
}

func TestLogWriter_OrderAndClose(t *testing.T) {
	w := &slowWriter{}
	l := newLogWriter(w)
	var want strings.Builder
	var wg sync.WaitGroup
	var mu sync.Mutex // keeps want in the order of the writes
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				line := fmt.Sprintf("g%d line %d\n", g, i)
				mu.Lock()
				want.WriteString(line)
				if _, err := l.Write([]byte(line)); err != nil {
					t.Error(err)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if got := w.buf.String(); got != want.String() {
		t.Fatalf("got %d bytes, want %d, in order", len(got), want.Len())
	}
	// After Close, writes go straight through.
	if _, err := l.Write([]byte("late\n")); err != nil || !strings.HasSuffix(w.buf.String(), "late\n") {
		t.Fatalf("write after close: %v %q", err, w.buf.String())
	}
}

// Lines written while a write is under way go out together in the next.
func TestLogWriter_JoinsWritesBehindASlowOne(t *testing.T) {
	w := &slowWriter{release: make(chan struct{})}
	l := newLogWriter(w)
	if _, err := l.Write([]byte("first\n")); err != nil {
		t.Fatal(err)
	}
	// The first write is held (or not yet started); these queue up.
	for i := range 10 {
		fmt.Fprintf(l, "queued %d\n", i)
	}
	close(w.release)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if w.writes > 2 {
		t.Errorf("%d writes for 11 lines behind a held write; want at most 2", w.writes)
	}
	if !strings.HasPrefix(w.buf.String(), "first\nqueued 0\n") || !strings.HasSuffix(w.buf.String(), "queued 9\n") {
		t.Errorf("log %q", w.buf.String())
	}
}
