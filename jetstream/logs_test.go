package jetstream

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/lambada-dev/lambada"
)

// messages returns the messages of the events Scan reads for s.
func messages(t *testing.T, l *Logs, s lambada.LogScan) []string {
	t.Helper()
	var got []string
	if err := l.Scan(context.Background(), s, func(e lambada.LogEvent) bool {
		got = append(got, e.Message)
		return true
	}); err != nil {
		t.Fatal(err)
	}
	return got
}

func batch(account, group, stream string, ms int64, lines ...string) lambada.LogBatch {
	b := lambada.LogBatch{Account: account, Group: group, Stream: stream}
	for _, l := range lines {
		b.Events = append(b.Events, lambada.LogEvent{Time: ms, Message: l})
	}
	return b
}

func TestLogs(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	n := MustOpen(t, dir)
	l := n.Logs
	const g = "/aws/lambda/fn"
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(l.Append(ctx, batch("", g, "2026/12/03/[$LATEST]a", 1000, "a1\n", "a2\n")))
	must(l.Append(ctx, batch("", g, "2026/12/03/[$LATEST]b", 2000, "b1\n")))
	must(l.Append(ctx, batch("", g, "2026/12/03/[$LATEST]a", 3000, "a3\n")))
	must(l.Append(ctx, batch("111111111111", g, "s", 4000, "other account\n")))

	// The group was made by the first write; each account has its own.
	groups, err := l.Groups(ctx, "")
	must(err)
	if len(groups) != 1 || groups[0].Name != g || groups[0].Created == 0 {
		t.Fatalf("groups %+v", groups)
	}
	if err := l.CreateGroup(ctx, lambada.LogGroup{Name: g}); lambada.ErrorCode(err) != lambada.ECONFLICT {
		t.Errorf("CreateGroup of an existing group: %v", err)
	}
	streams, err := l.Streams(ctx, "", g)
	must(err)
	if len(streams) != 2 || streams[0].Name != "2026/12/03/[$LATEST]a" || streams[0].FirstEvent != 1000 || streams[0].LastEvent != 3000 ||
		streams[1].FirstEvent != 2000 || streams[1].LastIngestion == 0 {
		t.Fatalf("streams %+v", streams)
	}

	// A group reads in order of storing; a stream on its own; from a
	// position on.
	if got := messages(t, l, lambada.LogScan{Group: g}); !slices.Equal(got, []string{"a1\n", "a2\n", "b1\n", "a3\n"}) {
		t.Errorf("group: %q", got)
	}
	if got := messages(t, l, lambada.LogScan{Group: g, Streams: []string{"2026/12/03/[$LATEST]a"}}); !slices.Equal(got, []string{"a1\n", "a2\n", "a3\n"}) {
		t.Errorf("stream a: %q", got)
	}
	var second uint64
	i := 0
	must(l.Scan(ctx, lambada.LogScan{Group: g}, func(e lambada.LogEvent) bool {
		i++
		second = e.Position
		return i < 2
	}))
	if got := messages(t, l, lambada.LogScan{Group: g, From: second}); !slices.Equal(got, []string{"a2\n", "b1\n", "a3\n"}) {
		t.Errorf("from the second event: %q", got)
	}
	if got := messages(t, l, lambada.LogScan{Account: "111111111111", Group: g}); !slices.Equal(got, []string{"other account\n"}) {
		t.Errorf("the other account's group: %q", got)
	}

	// Everything survives a restart.
	n.Close()
	n = MustOpen(t, dir)
	l = n.Logs
	if got := messages(t, l, lambada.LogScan{Group: g}); len(got) != 4 {
		t.Fatalf("after a restart: %q", got)
	}

	// Retention: a group's own, else the default.
	must(l.SetRetention(ctx, "", g, 1))
	if gr, err := l.Group(ctx, "", g); err != nil || gr.RetentionDays != 1 {
		t.Fatalf("group after SetRetention: %+v, %v", gr, err)
	}
	must(l.Sweep(ctx, time.Now().Add(23*time.Hour), 0))
	if got := messages(t, l, lambada.LogScan{Group: g}); len(got) != 4 {
		t.Errorf("swept within a day's retention: %q", got)
	}
	must(l.Append(ctx, batch("", g, "late", 5000, "late\n")))
	must(l.Sweep(ctx, time.Now().Add(24*time.Hour+time.Millisecond), 0))
	if got := messages(t, l, lambada.LogScan{Group: g}); len(got) != 0 {
		t.Errorf("left after a day's retention: %q", got)
	}
	if got := messages(t, l, lambada.LogScan{Account: "111111111111", Group: g}); len(got) != 1 {
		t.Errorf("the other account's group: %q", got)
	}
	must(l.Sweep(ctx, time.Now().Add(time.Hour), time.Minute))
	if got := messages(t, l, lambada.LogScan{Account: "111111111111", Group: g}); len(got) != 0 {
		t.Errorf("the default retention left %q", got)
	}

	// Deleting a group deletes its events.
	must(l.Append(ctx, batch("", g, "s", 6000, "x\n")))
	must(l.DeleteGroup(ctx, "", g))
	if _, err := l.Group(ctx, "", g); lambada.ErrorCode(err) != lambada.ENOTFOUND {
		t.Errorf("Group after DeleteGroup: %v", err)
	}
	if got := messages(t, l, lambada.LogScan{Group: g}); len(got) != 0 {
		t.Errorf("events after DeleteGroup: %q", got)
	}
	if err := l.DeleteGroup(ctx, "", g); lambada.ErrorCode(err) != lambada.ENOTFOUND {
		t.Errorf("DeleteGroup twice: %v", err)
	}
	// A write makes it again.
	must(l.Append(ctx, batch("", g, "s", 7000, "y\n")))
	if _, err := l.Group(ctx, "", g); err != nil {
		t.Errorf("group not made again: %v", err)
	}
}

// A batch larger than a message is split; the positions stay in order.
func TestLogs_LargeBatch(t *testing.T) {
	ctx := context.Background()
	l := MustOpen(t, t.TempDir()).Logs
	b := lambada.LogBatch{Group: "g", Stream: "s"}
	for i := range 3000 {
		b.Events = append(b.Events, lambada.LogEvent{Time: int64(i), Message: fmt.Sprintf("%04d %01000d\n", i, 0)})
	}
	if err := l.Append(ctx, b); err != nil {
		t.Fatal(err)
	}
	var last uint64
	i := 0
	if err := l.Scan(ctx, lambada.LogScan{Group: "g"}, func(e lambada.LogEvent) bool {
		if e.Position <= last || e.Message != b.Events[i].Message || e.Time != int64(i) {
			t.Fatalf("event %d: %+v after %d", i, e, last)
		}
		last = e.Position
		i++
		return true
	}); err != nil {
		t.Fatal(err)
	}
	if i != 3000 {
		t.Fatalf("read %d of 3000", i)
	}
}

// BenchmarkLogs_Append is what storing the log of one invocation costs (its
// share of a batch of 100 invocations' four lines, as funclog writes them).
func BenchmarkLogs_Append(b *testing.B) {
	l := MustOpen(b, b.TempDir()).Logs
	ctx := context.Background()
	var events []lambada.LogEvent
	for range 100 {
		events = append(events,
			lambada.LogEvent{Time: 1, Message: "START RequestId: 6f1b2c5e-8a43-4d2b-9b0e-1c2d3e4f5a6b Version: $LATEST\n"},
			lambada.LogEvent{Time: 1, Message: "pid=1234 env=abc\n"},
			lambada.LogEvent{Time: 1, Message: "END RequestId: 6f1b2c5e-8a43-4d2b-9b0e-1c2d3e4f5a6b\n"},
			lambada.LogEvent{Time: 1, Message: "REPORT RequestId: 6f1b2c5e-8a43-4d2b-9b0e-1c2d3e4f5a6b\tDuration: 0.21 ms\tBilled Duration: 1 ms\tMemory Size: 128 MB\tMax Memory Used: 12 MB\t\n"})
	}
	batch := lambada.LogBatch{Group: "/aws/lambda/fn", Stream: "2026/12/03/[$LATEST]0123456789abcdef0123456789abcdef", Events: events}
	b.ResetTimer()
	for i := 0; i < b.N; i += 100 {
		if err := l.Append(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
}
