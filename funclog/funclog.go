// Package funclog keeps the recent log output of every function, for the log
// tail and a later logs API, and copies each line to the server's own log
// tagged with the function's name, so `lambada serve` shows what its
// functions print. It implements sandbox.LogSink.
package funclog

import (
	"bytes"
	"io"
	"strconv"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"
)

// DefaultKeep is how many bytes of recent output a Book keeps per function.
const DefaultKeep = 256 << 10

// Book is the log of every function. The zero value keeps DefaultKeep bytes
// per function and copies nothing to a server log.
type Book struct {
	// Out is the server log that every line is copied to, one record per
	// line in the server log's text format (that of log/slog's
	// TextHandler), formatted here without slog: it is written on every
	// invocation. Nil copies nothing.
	Out  io.Writer
	Keep int // bytes kept per function

	mu  sync.Mutex
	fns map[string][]byte
	buf []byte // the records of one call, reused
	Now func() time.Time
}

// FunctionLog records lines of function's output (or platform lines): one
// line, or several written together, each ending in a newline.
func (b *Book) FunctionLog(function, version string, lines []byte) {
	keep := b.Keep
	if keep <= 0 {
		keep = DefaultKeep
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.fns == nil {
		b.fns = make(map[string][]byte)
	}
	buf := append(b.fns[function], lines...)
	if len(buf) > 2*keep {
		// Slide the newest keep bytes down, in place: Recent hands out
		// copies, so nothing else holds buf.
		buf = buf[:copy(buf, buf[len(buf)-keep:])]
	}
	b.fns[function] = buf
	if b.Out == nil {
		return
	}
	now := time.Now
	if b.Now != nil {
		now = b.Now
	}
	stamp := now().UTC()
	out := b.buf[:0]
	for line := range bytes.Lines(lines) {
		out = append(out, "time="...)
		out = stamp.AppendFormat(out, "2006-01-02T15:04:05.000Z07:00")
		out = append(out, " level=INFO msg="...)
		out = appendValue(out, bytes.TrimRight(line, "\n"))
		out = append(out, " component=function function="...)
		out = append(out, function...)
		out = append(out, " version="...)
		out = append(out, version...)
		out = append(out, '\n')
	}
	b.buf = out
	_, _ = b.Out.Write(out) // the server log's writer copies
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

// appendValue appends s as log/slog's TextHandler writes a string value:
// quoted (strconv.Quote) when it is empty or holds a space, '=', '"', a
// control character, or a rune that is not printable; bare otherwise.
func appendValue(b, s []byte) []byte {
	if needsQuoting(s) {
		return strconv.AppendQuote(b, string(s))
	}
	return append(b, s...)
}

func needsQuoting(s []byte) bool {
	if len(s) == 0 {
		return true
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c <= ' ' || c == '=' || c == '"' {
				return true
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError || unicode.IsSpace(r) || !unicode.IsPrint(r) {
			return true
		}
		i += size
	}
	return false
}
