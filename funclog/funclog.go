// Package funclog keeps the recent log output of every function, for the log
// tail and a later logs API, and copies each line to the server's own log
// tagged with the function's name, so `lambada serve` shows what its
// functions print. It implements sandbox.LogSink.
package funclog

import (
	"bytes"
	"cmp"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"
)

// DefaultKeep is how many bytes of recent output a Book keeps per function.
const DefaultKeep = 256 << 10

// The default bound of what a Book copies to the server log per function:
// a burst of 1 MiB, then 64 KiB a second.
const (
	DefaultOutRate  = 64 << 10
	DefaultOutBurst = 1 << 20
)

// Book is the log of every function. The zero value keeps DefaultKeep bytes
// per function and copies nothing to a server log.
type Book struct {
	// Out is the server log that every line is copied to, one record per
	// line in the server log's text format (that of log/slog's
	// TextHandler), formatted here without slog: it is written on every
	// invocation. Nil copies nothing.
	Out  io.Writer
	Keep int // bytes kept per function
	// OutRate and OutBurst bound what is copied to Out per function (in
	// bytes of output: a second's worth, and at once; DefaultOutRate and
	// DefaultOutBurst when zero), so that a function cannot fill the
	// node's disk through its log. Lines past the bound are not copied; the
	// next line copied is preceded by one saying how much was dropped.
	OutRate, OutBurst int

	mu      sync.Mutex
	fns     map[string][]byte
	budgets map[string]*budget
	buf     []byte // the records of one call, reused
	Now     func() time.Time
}

// budget is what one function may still copy to the server log, and what
// it had dropped since the last line copied.
type budget struct {
	bytes        float64
	at           time.Time
	droppedBytes int
	droppedLines int
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
	bud := b.budget(function, stamp)
	out := b.buf[:0]
	for line := range bytes.Lines(lines) {
		if float64(len(line)) > bud.bytes {
			bud.droppedBytes += len(line)
			bud.droppedLines++
			continue
		}
		bud.bytes -= float64(len(line))
		if bud.droppedLines > 0 {
			out = appendRecord(out, stamp, "WARN", []byte(fmt.Sprintf("lambada dropped %d bytes (%d lines) of this function's output from the server log: over %d bytes a second",
				bud.droppedBytes, bud.droppedLines, b.rate())), function, version)
			bud.droppedBytes, bud.droppedLines = 0, 0
		}
		out = appendRecord(out, stamp, "INFO", bytes.TrimRight(line, "\n"), function, version)
	}
	b.buf = out
	_, _ = b.Out.Write(out) // the server log's writer copies
}

func (b *Book) rate() int { return cmp.Or(b.OutRate, DefaultOutRate) }

// budget returns function's budget, refilled to now; b.mu is held.
func (b *Book) budget(function string, now time.Time) *budget {
	burst := float64(cmp.Or(b.OutBurst, DefaultOutBurst))
	if b.budgets == nil {
		b.budgets = make(map[string]*budget)
	}
	bud := b.budgets[function]
	if bud == nil {
		bud = &budget{bytes: burst, at: now}
		b.budgets[function] = bud
	}
	bud.bytes = min(burst, bud.bytes+now.Sub(bud.at).Seconds()*float64(b.rate()))
	bud.at = now
	return bud
}

// appendRecord appends one record of the server log's text format.
func appendRecord(out []byte, stamp time.Time, level string, msg []byte, function, version string) []byte {
	out = append(out, "time="...)
	out = stamp.AppendFormat(out, "2006-01-02T15:04:05.000Z07:00")
	out = append(out, " level="...)
	out = append(out, level...)
	out = append(out, " msg="...)
	out = appendValue(out, msg)
	out = append(out, " component=function function="...)
	out = append(out, function...)
	out = append(out, " version="...)
	out = append(out, version...)
	return append(out, '\n')
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
	delete(b.budgets, function)
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
