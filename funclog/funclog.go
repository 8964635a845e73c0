// Package funclog keeps the recent log output of every function, for the log
// tail and a later logs API, and copies each line to the server's own log
// tagged with the function's name, so `lambada serve` shows what its
// functions print. It implements sandbox.LogSink.
package funclog

import (
	"bytes"
	"log/slog"
	"sync"
)

// DefaultKeep is how many bytes of recent output a Book keeps per function.
const DefaultKeep = 256 << 10

// Book is the log of every function. The zero value keeps DefaultKeep bytes
// per function and copies nothing to a server log.
type Book struct {
	Logger *slog.Logger // the server's log; nil to copy nothing
	Keep   int          // bytes kept per function

	mu  sync.Mutex
	fns map[string][]byte
}

// FunctionLog records lines of function's output (or platform lines): one
// line, or several written together, each ending in a newline.
func (b *Book) FunctionLog(function, version string, lines []byte) {
	line := lines
	keep := b.Keep
	if keep <= 0 {
		keep = DefaultKeep
	}
	b.mu.Lock()
	if b.fns == nil {
		b.fns = make(map[string][]byte)
	}
	buf := append(b.fns[function], line...)
	if len(buf) > 2*keep {
		// Slide the newest keep bytes down, in place: Recent hands out
		// copies, so nothing else holds buf.
		buf = buf[:copy(buf, buf[len(buf)-keep:])]
	}
	b.fns[function] = buf
	b.mu.Unlock()
	if b.Logger != nil {
		for l := range bytes.Lines(lines) {
			b.Logger.Info(string(bytes.TrimRight(l, "\n")), "function", function, "version", version)
		}
	}
}

// Recent returns up to the last n bytes of function's log.
func (b *Book) Recent(function string, n int) []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	buf := b.fns[function]
	if len(buf) > n {
		buf = buf[len(buf)-n:]
	}
	return append([]byte(nil), buf...)
}

// Forget drops the log of a deleted function.
func (b *Book) Forget(function string) {
	b.mu.Lock()
	delete(b.fns, function)
	b.mu.Unlock()
}
