package jetstream

import (
	"bytes"
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/lambada-dev/lambada"
	"github.com/lambada-dev/lambada/internal/poll"
	"github.com/lambada-dev/lambada/internal/storetest"
	natsjs "github.com/nats-io/nats.go/jetstream"
)

// MustOpen opens a Node on dir and closes it when the test ends.
func MustOpen(tb testing.TB, dir string) *Node {
	tb.Helper()
	n, err := Open(tb.Context(), Config{Dir: dir, Logger: testLogger(tb)})
	if err != nil {
		tb.Fatalf("Open(%s): %v", dir, err)
	}
	tb.Cleanup(func() { n.Close() })
	return n
}

func testLogger(tb testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tb.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

func TestFunctionStore(t *testing.T) {
	storetest.FunctionStore(t, func(t *testing.T) lambada.FunctionStore {
		return MustOpen(t, t.TempDir()).Functions
	})
}

func TestCodeStore(t *testing.T) {
	storetest.CodeStore(t, func(t *testing.T) lambada.CodeStore {
		return MustOpen(t, t.TempDir()).Code
	})
}

func TestOpen_Restart(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	zip := []byte("an archive that must survive")
	key := storetest.Key(zip)

	n := MustOpen(t, dir)
	storetest.MustPut(t, n.Functions, storetest.NewFunction("alpha"))
	storetest.MustPut(t, n.Functions, storetest.NewFunction("bravo"))
	f := storetest.MustGet(t, n.Functions, "alpha").Clone()
	f.Latest.Description = "second"
	rev := storetest.MustPut(t, n.Functions, f)
	if err := n.Functions.DeleteFunction(ctx, "bravo"); err != nil {
		t.Fatal(err)
	}
	if err := n.Code.PutCode(ctx, key, zip); err != nil {
		t.Fatal(err)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}

	n = MustOpen(t, dir)
	got := storetest.MustGet(t, n.Functions, "alpha")
	if got.Revision != rev || got.Latest.Description != "second" || got.Latest.Environment["KEY"] != "value" {
		t.Errorf("after reopening: revision %d (want %d), %+v", got.Revision, rev, got.Latest)
	}
	_, err := n.Functions.Function(ctx, "bravo")
	storetest.WantCode(t, err, lambada.ENOTFOUND)
	if fs, _ := n.Functions.Functions(ctx); len(fs) != 1 {
		t.Errorf("Functions after reopening: %d, want 1", len(fs))
	}
	storetest.MustCode(t, n.Code, key, zip)

	// Writes continue from the recovered revisions.
	storetest.MustPut(t, n.Functions, storetest.NewFunction("bravo"))
	f = got.Clone()
	f.Latest.Description = "third"
	if next := storetest.MustPut(t, n.Functions, f); next <= rev {
		t.Errorf("revision after reopening = %d, want more than %d", next, rev)
	}
}

func TestOpen_NoDir(t *testing.T) {
	if _, err := Open(t.Context(), Config{}); err == nil {
		t.Fatal("Open without a Dir succeeded")
	}
}

// eventually polls cond until it holds, failing t after a deadline.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	poll.Until(t, 5*time.Second, what, cond)
}

func TestOpen_SyncAlways(t *testing.T) {
	for _, always := range []bool{false, true} {
		n, err := Open(t.Context(), Config{Dir: t.TempDir(), Logger: testLogger(t), SyncAlways: always})
		if err != nil {
			t.Fatal(err)
		}
		if got := n.SyncsEveryWrite(); got != always {
			t.Errorf("SyncAlways %v: SyncsEveryWrite() = %v", always, got)
		}
		n.Close()
	}
}

// A secret is created once and the same after a restart.
func TestNode_Secret(t *testing.T) {
	dir := t.TempDir()
	n := MustOpen(t, dir)
	a, err := n.Secret(t.Context(), "links")
	if err != nil || len(a) != 32 {
		t.Fatalf("%x %v", a, err)
	}
	if b, err := n.Secret(t.Context(), "other"); err != nil || string(b) == string(a) {
		t.Fatalf("another name, the same key: %v", err)
	}
	n.Close()
	n = MustOpen(t, dir)
	if b, err := n.Secret(t.Context(), "links"); err != nil || string(b) != string(a) {
		t.Fatalf("after a restart: %x, was %x (%v)", b, a, err)
	}
}

// laggingKV is a bucket whose replica has not yet got a key another node
// created: Create finds it, Get misses it the first misses times.
type laggingKV struct {
	natsjs.KeyValue
	misses int
	value  []byte
}

func (l *laggingKV) Get(context.Context, string) (natsjs.KeyValueEntry, error) {
	if l.misses > 0 {
		l.misses--
		return nil, natsjs.ErrKeyNotFound
	}
	return kvEntry{value: l.value}, nil
}

func (l *laggingKV) Create(context.Context, string, []byte, ...natsjs.KVCreateOpt) (uint64, error) {
	return 0, natsjs.ErrKeyExists
}

type kvEntry struct {
	natsjs.KeyValueEntry
	value []byte
}

func (e kvEntry) Value() []byte { return e.value }

// A secret another node created a moment ago is read again until the
// replica this node reads has it.
func TestReadSecret_Lagging(t *testing.T) {
	want := bytes.Repeat([]byte{7}, secretSize)
	got, err := readSecret(t.Context(), &laggingKV{misses: 3, value: want}, "links")
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("readSecret: %x, %v; want the other node's", got, err)
	}
}

// laggingObjects is an object store whose replica has not yet got an
// archive another node stored: GetBytes misses it the first misses times.
type laggingObjects struct {
	natsjs.ObjectStore
	misses int
	value  []byte
}

func (l *laggingObjects) GetBytes(context.Context, string, ...natsjs.GetObjectOpt) ([]byte, error) {
	if l.misses > 0 {
		l.misses--
		return nil, natsjs.ErrObjectNotFound
	}
	return l.value, nil
}

// A replicated store reads an archive not found again until the replica
// has it; a store alone answers not found at once.
func TestCodeStore_Lagging(t *testing.T) {
	s := &CodeStore{obj: &laggingObjects{misses: 3, value: []byte("zip")}, replicated: true}
	if b, err := s.Code(t.Context(), "k"); err != nil || string(b) != "zip" {
		t.Errorf("replicated: %q, %v; want the archive", b, err)
	}
	s = &CodeStore{obj: &laggingObjects{misses: 1, value: []byte("zip")}}
	if _, err := s.Code(t.Context(), "k"); lambada.ErrorCode(err) != lambada.ENOTFOUND {
		t.Errorf("alone: %v, want not found", err)
	}
}
