// Package funclog takes every line functions and the platform write, stamps
// it, bounds what each function may write, and hands the lines in batches to
// a Store (the log groups and streams the Logs API reads), copying them to
// the server's own log too when asked (--log-functions). It implements
// sandbox.LogSink, which the invocation path calls: FunctionLog only
// appends to memory; a goroutine of the Book's writes the batches.
package funclog

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/lambada-dev/lambada"
)

// The default bounds of what each function may write: to the store, a
// burst of 8 MiB then 1 MiB a second; to the server log, a burst of 1 MiB
// then 64 KiB a second.
const (
	DefaultStoreRate  = 1 << 20
	DefaultStoreBurst = 8 << 20
	DefaultOutRate    = 64 << 10
	DefaultOutBurst   = 1 << 20
)

// DefaultFlushEvery is how often a Book writes its batches to the store.
const DefaultFlushEvery = 100 * time.Millisecond

// Store keeps log events (jetstream.Logs).
type Store interface {
	// Append adds b's events to the end of its stream, creating the log
	// group and the stream if they do not exist.
	Append(ctx context.Context, b lambada.LogBatch) error
}

// Book is the log of every function. Open starts its writer; Close writes
// what is left and stops it.
type Book struct {
	// Store receives every line as an event of its environment's log
	// stream; nil keeps nothing.
	Store Store
	// StoreRate and StoreBurst bound what each function writes to Store
	// (bytes a second, and at once; DefaultStoreRate and DefaultStoreBurst
	// when zero), so that a function cannot fill the store: lines past the
	// bound are dropped, and the next line kept is preceded by one saying
	// how much was dropped.
	StoreRate, StoreBurst int
	// Out is the server log that every line is copied to, one record per
	// line in the server log's text format (that of log/slog's
	// TextHandler), formatted here without slog: it is written on every
	// invocation. Nil copies nothing.
	Out io.Writer
	// OutRate and OutBurst bound what each function copies to Out, as
	// StoreRate and StoreBurst do Store (DefaultOutRate and
	// DefaultOutBurst when zero).
	OutRate, OutBurst int
	FlushEvery        time.Duration // DefaultFlushEvery when zero
	Logger            *slog.Logger
	Now               func() time.Time

	mu      sync.Mutex
	pending map[*lambada.LogSource]*lambada.LogBatch
	budgets map[string]*budgets // by function
	buf     []byte              // the server log records of one call, reused

	stop context.CancelFunc
	done chan struct{}
}

// budgets are what one function may still write to the store and to the
// server log.
type budgets struct{ store, out budget }

// budget is what one function may still write to one place, and what it
// had dropped since the last line written there.
type budget struct {
	bytes        float64
	at           time.Time
	droppedBytes int
	droppedLines int
}

// take reports whether a line of n bytes may be written at now, refilling
// the budget at rate up to burst first.
func (b *budget) take(n int, now time.Time, rate, burst int) bool {
	if b.at.IsZero() {
		b.bytes = float64(burst)
	} else {
		b.bytes = min(float64(burst), b.bytes+now.Sub(b.at).Seconds()*float64(rate))
	}
	b.at = now
	if float64(n) > b.bytes {
		b.droppedBytes += n
		b.droppedLines++
		return false
	}
	b.bytes -= float64(n)
	return true
}

// dropped returns the line that says what b dropped, and forgets it; "" if
// nothing was dropped.
func (b *budget) dropped(where string, rate int) string {
	if b.droppedLines == 0 {
		return ""
	}
	s := fmt.Sprintf("lambada dropped %d bytes (%d lines) of this function's output from %s: over %d bytes a second\n",
		b.droppedBytes, b.droppedLines, where, rate)
	b.droppedBytes, b.droppedLines = 0, 0
	return s
}

// Open starts the writer of the batches to the Store.
func (b *Book) Open() {
	if b.Store == nil {
		return
	}
	ctx, stop := context.WithCancel(context.Background())
	b.stop, b.done = stop, make(chan struct{})
	go b.run(ctx)
}

// Close writes what is pending and stops the writer.
func (b *Book) Close() {
	if b.stop == nil {
		return
	}
	b.stop()
	<-b.done
}

func (b *Book) run(ctx context.Context) {
	defer close(b.done)
	t := time.NewTicker(cmp.Or(b.FlushEvery, DefaultFlushEvery))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			// What is left is written, with a bound of its own.
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			b.Flush(ctx)
			cancel()
			return
		case <-t.C:
			b.Flush(ctx)
		}
	}
}

// Flush writes every pending batch to the Store.
func (b *Book) Flush(ctx context.Context) {
	b.mu.Lock()
	pending := b.pending
	b.pending = nil
	b.mu.Unlock()
	for _, batch := range pending {
		if err := b.Store.Append(ctx, *batch); err != nil && b.Logger != nil {
			b.Logger.Error("funclog: write log events", "group", batch.Group, "stream", batch.Stream, "events", len(batch.Events), "err", err)
		}
	}
}

func (b *Book) now() time.Time {
	if b.Now != nil {
		return b.Now()
	}
	return time.Now()
}

// FunctionLog records lines of an environment's output (or platform
// lines): one line, or several written together, each ending in a newline.
func (b *Book) FunctionLog(src *lambada.LogSource, lines []byte) {
	stamp := b.now()
	ms := stamp.UnixMilli()
	storeRate, storeBurst := cmp.Or(b.StoreRate, DefaultStoreRate), cmp.Or(b.StoreBurst, DefaultStoreBurst)
	outRate, outBurst := cmp.Or(b.OutRate, DefaultOutRate), cmp.Or(b.OutBurst, DefaultOutBurst)
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.budgets == nil {
		b.budgets = make(map[string]*budgets)
	}
	bud := b.budgets[src.Function]
	if bud == nil {
		bud = new(budgets)
		b.budgets[src.Function] = bud
	}
	var batch *lambada.LogBatch
	if b.Store != nil {
		if batch = b.pending[src]; batch == nil {
			if b.pending == nil {
				b.pending = make(map[*lambada.LogSource]*lambada.LogBatch)
			}
			batch = &lambada.LogBatch{Account: src.Account, Group: src.Group, Stream: src.Stream}
			b.pending[src] = batch
		}
	}
	out := b.buf[:0]
	for line := range bytes.Lines(lines) {
		if batch != nil && bud.store.take(len(line), stamp, storeRate, storeBurst) {
			if s := bud.store.dropped("the log store", storeRate); s != "" {
				batch.Events = append(batch.Events, lambada.LogEvent{Time: ms, Message: s})
			}
			batch.Events = append(batch.Events, lambada.LogEvent{Time: ms, Message: string(line)})
		}
		if b.Out != nil && bud.out.take(len(line), stamp, outRate, outBurst) {
			if s := bud.out.dropped("the server log", outRate); s != "" {
				out = appendRecord(out, stamp, "WARN", bytes.TrimRight([]byte(s), "\n"), src)
			}
			out = appendRecord(out, stamp, "INFO", bytes.TrimRight(line, "\n"), src)
		}
	}
	b.buf = out
	if len(out) > 0 {
		_, _ = b.Out.Write(out) // the server log's writer copies
	}
}

// appendRecord appends one record of the server log's text format.
func appendRecord(out []byte, stamp time.Time, level string, msg []byte, src *lambada.LogSource) []byte {
	out = append(out, "time="...)
	out = stamp.UTC().AppendFormat(out, "2006-01-02T15:04:05.000Z07:00")
	out = append(out, " level="...)
	out = append(out, level...)
	out = append(out, " msg="...)
	out = appendValue(out, msg)
	out = append(out, " component=function function="...)
	out = append(out, src.Function...)
	out = append(out, " version="...)
	out = append(out, src.Version...)
	return append(out, '\n')
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
