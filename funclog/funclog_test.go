package funclog

import (
	"bytes"
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lambada-dev/lambada"
	"github.com/lambada-dev/lambada/internal/poll"
)

// store is a Store of the batches it was given.
type store struct {
	mu      sync.Mutex
	batches []lambada.LogBatch
}

func (s *store) Append(_ context.Context, b lambada.LogBatch) error {
	s.mu.Lock()
	s.batches = append(s.batches, b)
	s.mu.Unlock()
	return nil
}

// events returns the messages stored in stream.
func (s *store) events(stream string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var got []string
	for _, b := range s.batches {
		if b.Stream == stream {
			for _, e := range b.Events {
				got = append(got, e.Message)
			}
		}
	}
	return got
}

func source(function, stream string) *lambada.LogSource {
	return &lambada.LogSource{Function: function, Version: "$LATEST", Group: "/aws/lambda/" + function, Stream: stream}
}

// Every line becomes an event of its environment's stream, stamped, in
// order; several lines written together are several events; and each is
// copied to the server log.
func TestBook_StoresEachLineAndCopiesToServerLog(t *testing.T) {
	var server bytes.Buffer
	st := &store{}
	now := time.Date(2026, 12, 3, 1, 2, 3, 456e6, time.UTC)
	b := &Book{Store: st, Out: &server, Now: func() time.Time { return now }}
	a1, a2, other := source("a", "s1"), source("a", "s2"), source("b", "s3")
	b.FunctionLog(a1, []byte("hello from a\n"))
	b.FunctionLog(a2, []byte("END RequestId: r\nREPORT RequestId: r\t\n"))
	b.FunctionLog(other, []byte("hello from b\n"))
	b.FunctionLog(a1, []byte("again\n"))
	b.Flush(context.Background())
	if got := st.events("s1"); !slices.Equal(got, []string{"hello from a\n", "again\n"}) {
		t.Errorf("stream s1: %q", got)
	}
	if got := st.events("s2"); !slices.Equal(got, []string{"END RequestId: r\n", "REPORT RequestId: r\t\n"}) {
		t.Errorf("stream s2: %q", got)
	}
	for _, batch := range st.batches {
		if batch.Group != "/aws/lambda/a" && batch.Group != "/aws/lambda/b" || batch.Events[0].Time != now.UnixMilli() {
			t.Errorf("batch %+v", batch)
		}
	}
	if !strings.Contains(server.String(), `level=INFO msg="hello from a" component=function function=a version=$LATEST`+"\n") ||
		!strings.Contains(server.String(), `level=INFO msg="hello from b" component=function function=b version=$LATEST`+"\n") {
		t.Fatalf("server log:\n%s", server.String())
	}
	// Nothing is written twice.
	st.batches = nil
	b.Flush(context.Background())
	if len(st.batches) != 0 {
		t.Errorf("a second Flush wrote %d batches", len(st.batches))
	}
}

// Close writes what is pending, and the writer writes without a Flush.
func TestBook_Writer(t *testing.T) {
	st := &store{}
	b := &Book{Store: st, FlushEvery: time.Millisecond}
	b.Open()
	src := source("a", "s")
	b.FunctionLog(src, []byte("one\n"))
	poll.Until(t, 10*time.Second, "the first line written", func() bool { return len(st.events("s")) == 1 })
	b.FunctionLog(src, []byte("two\n"))
	b.Close()
	if got := st.events("s"); !slices.Equal(got, []string{"one\n", "two\n"}) {
		t.Errorf("stored %q", got)
	}
}

// What a function writes to the store is bounded: a burst, then a rate;
// the next line kept says how much was dropped.
func TestBook_StoreBound(t *testing.T) {
	st := &store{}
	now := time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)
	b := &Book{Store: st, StoreRate: 1000, StoreBurst: 2000, Now: func() time.Time { return now }}
	line := []byte(strings.Repeat("x", 499) + "\n")
	noisy := source("noisy", "n")
	for range 10 {
		b.FunctionLog(noisy, line)
	}
	b.FunctionLog(source("quiet", "q"), []byte("still here\n"))
	b.Flush(context.Background())
	if n := len(st.events("n")); n != 4 {
		t.Errorf("%d of 10 lines of 500 bytes stored within a burst of 2000, want 4", n)
	}
	if got := st.events("q"); len(got) != 1 {
		t.Errorf("the quiet function's line was dropped: %q", got)
	}
	now = now.Add(time.Second)
	st.batches = nil
	b.FunctionLog(noisy, line)
	b.Flush(context.Background())
	want := []string{"lambada dropped 3000 bytes (6 lines) of this function's output from the log store: over 1000 bytes a second\n", string(line)}
	if got := st.events("n"); !slices.Equal(got, want) {
		t.Errorf("a second later: %q", got)
	}
}

// TestBook_ServerLogFormat: each line of a batch is one record, formatted as
// log/slog's TextHandler formats it.
func TestBook_ServerLogFormat(t *testing.T) {
	now := time.Date(2026, 12, 2, 19, 12, 53, 836e6, time.UTC)
	var got, want bytes.Buffer
	b := &Book{Out: &got, Now: func() time.Time { return now }}
	lines := []string{"END RequestId: r", "REPORT RequestId: r\tDuration: 1.00 ms\t", "bare", "a=b", `say "hi"`, "", "back\\slash",
		"tab\there", "naïve", "no\u00a0break", "bell\a", "\xff\xfe", "{\"json\":1}", "del\x7f"}
	b.FunctionLog(&lambada.LogSource{Function: "fn", Version: "$LATEST"}, []byte(strings.Join(lines, "\n")+"\n"))
	logger := slog.New(slog.NewTextHandler(&want, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			a.Value = slog.TimeValue(now)
		}
		return a
	}}))
	for _, line := range lines {
		logger.Info(line, "component", "function", "function", "fn", "version", "$LATEST")
	}
	if got.String() != want.String() {
		t.Fatalf("server log\n got %q\nwant %q", got.String(), want.String())
	}
}

// What a function copies to the server log is bounded: a burst, then a
// rate; the next line copied says how much was dropped.
func TestBook_ServerLogBound(t *testing.T) {
	var server bytes.Buffer
	now := time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)
	b := &Book{Out: &server, OutRate: 1000, OutBurst: 2000, Now: func() time.Time { return now }}
	noisy := source("noisy", "n")
	line := []byte(strings.Repeat("x", 499) + "\n")
	for range 10 {
		b.FunctionLog(noisy, line)
	}
	b.FunctionLog(source("quiet", "q"), []byte("still here\n")) // another function's own budget
	if n := strings.Count(server.String(), "xxx component=function function=noisy"); n != 4 {
		t.Errorf("%d of 10 lines of 500 bytes copied within a burst of 2000, want 4", n)
	}
	if !strings.Contains(server.String(), "msg=\"still here\" component=function function=quiet") {
		t.Errorf("the quiet function's line was dropped:\n%s", server.String())
	}
	now = now.Add(time.Second) // 1000 bytes more
	server.Reset()
	b.FunctionLog(noisy, line)
	b.FunctionLog(noisy, line)
	b.FunctionLog(noisy, line)
	got := server.String()
	if !strings.Contains(got, `level=WARN msg="lambada dropped 3000 bytes (6 lines) of this function's output from the server log: over 1000 bytes a second" component=function function=noisy`) {
		t.Errorf("no line says what was dropped:\n%s", got)
	}
	if n := strings.Count(got, "xxx component=function"); n != 2 {
		t.Errorf("%d lines copied a second later, want 2", n)
	}
	if strings.Count(got, "dropped") != 1 {
		t.Errorf("the drop is reported more than once:\n%s", got)
	}
}

type nopStore struct{}

func (nopStore) Append(context.Context, lambada.LogBatch) error { return nil }

// BenchmarkBook_Invocation is what the log costs one warm invocation: its
// START line, one line of output, END and REPORT together, and its share
// of a flush (one every 100 invocations).
func BenchmarkBook_Invocation(b *testing.B) {
	book := &Book{Store: nopStore{}}
	src := source("fn", "s")
	start := []byte("START RequestId: 6f1b2c5e-8a43-4d2b-9b0e-1c2d3e4f5a6b Version: $LATEST\n")
	out := []byte("pid=1234 env=abc\n")
	end := []byte("END RequestId: 6f1b2c5e-8a43-4d2b-9b0e-1c2d3e4f5a6b\nREPORT RequestId: 6f1b2c5e-8a43-4d2b-9b0e-1c2d3e4f5a6b\tDuration: 0.21 ms\tBilled Duration: 1 ms\tMemory Size: 128 MB\tMax Memory Used: 12 MB\t\n")
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		book.FunctionLog(src, start)
		book.FunctionLog(src, out)
		book.FunctionLog(src, end)
		if i%100 == 99 {
			book.Flush(context.Background())
		}
	}
}
