package funclog

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

func TestBook_KeepsPerFunctionAndCopiesToServerLog(t *testing.T) {
	var server bytes.Buffer
	b := &Book{Logger: slog.New(slog.NewTextHandler(&server, nil)), Keep: 16}
	b.FunctionLog("a", "$LATEST", []byte("hello from a\n"))
	b.FunctionLog("b", "1", []byte("hello from b\n"))
	if got := string(b.Recent("a", 100)); got != "hello from a\n" {
		t.Fatalf("a's log %q", got)
	}
	if got := string(b.Recent("b", 5)); got != "om b\n" {
		t.Fatalf("last 5 bytes of b's log %q", got)
	}
	if !strings.Contains(server.String(), `msg="hello from a" function=a version=$LATEST`) ||
		!strings.Contains(server.String(), `msg="hello from b" function=b version=1`) {
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
