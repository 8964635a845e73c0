package jetstream

import (
	"log/slog"
	"testing"
	"time"

	"github.com/lambada-dev/lambada"
	"github.com/lambada-dev/lambada/internal/poll"
	"github.com/lambada-dev/lambada/internal/storetest"
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
