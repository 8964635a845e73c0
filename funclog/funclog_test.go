package funclog

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestBook_KeepsPerFunctionAndCopiesToServerLog(t *testing.T) {
	var server bytes.Buffer
	b := &Book{Out: &server, Keep: 16}
	b.FunctionLog("a", "$LATEST", []byte("hello from a\n"))
	b.FunctionLog("b", "1", []byte("hello from b\n"))
	if got := string(b.Recent("a", 100)); got != "hello from a\n" {
		t.Fatalf("a's log %q", got)
	}
	if got := string(b.Recent("b", 5)); got != "om b\n" {
		t.Fatalf("last 5 bytes of b's log %q", got)
	}
	if !strings.Contains(server.String(), `level=INFO msg="hello from a" component=function function=a version=$LATEST`+"\n") ||
		!strings.Contains(server.String(), `level=INFO msg="hello from b" component=function function=b version=1`+"\n") {
		t.Fatalf("server log:\n%s", server.String())
	}
	// The kept log is bounded: after many lines only the newest remain.
	for i := 0; i < 100; i++ {
		b.FunctionLog("a", "$LATEST", []byte("0123456789\n"))
	}
	if got := b.Recent("a", 1<<20); len(got) > 2*16 || !bytes.HasSuffix(got, []byte("0123456789\n")) {
		t.Fatalf("kept %d bytes: %q", len(got), got)
	}
	b.Forget("a")
	if got := b.Recent("a", 100); len(got) != 0 {
		t.Fatalf("forgotten log %q", got)
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
	b.FunctionLog("fn", "$LATEST", []byte(strings.Join(lines, "\n")+"\n"))
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
	line := []byte(strings.Repeat("x", 499) + "\n")
	for range 10 {
		b.FunctionLog("noisy", "$LATEST", line)
	}
	b.FunctionLog("quiet", "$LATEST", []byte("still here\n")) // another function's own budget
	if n := strings.Count(server.String(), "xxx component=function function=noisy"); n != 4 {
		t.Errorf("%d of 10 lines of 500 bytes copied within a burst of 2000, want 4", n)
	}
	if !strings.Contains(server.String(), "msg=\"still here\" component=function function=quiet") {
		t.Errorf("the quiet function's line was dropped:\n%s", server.String())
	}
	now = now.Add(time.Second) // 1000 bytes more
	server.Reset()
	b.FunctionLog("noisy", "$LATEST", line)
	b.FunctionLog("noisy", "$LATEST", line)
	b.FunctionLog("noisy", "$LATEST", line)
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
