package jetstream

import (
	"log/slog"
	"testing"
	"time"

	"github.com/lambada-dev/lambada"
	"github.com/lambada-dev/lambada/internal/storetest"
	natsjs "github.com/nats-io/nats.go/jetstream"
)

// mustOpenStore opens a second FunctionStore on n's bucket, as another node
// would, and closes it when the test ends.
func mustOpenStore(t *testing.T, n *Node) *FunctionStore {
	t.Helper()
	s, err := openFunctionStore(t.Context(), n.kv, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestFunctionStore_TwoStores(t *testing.T) {
	ctx := t.Context()
	n := MustOpen(t, t.TempDir())
	a := n.Functions
	storetest.MustPut(t, a, storetest.NewFunction("before"))
	b := mustOpenStore(t, n)
	storetest.MustGet(t, b, "before") // loaded when opened

	rev := storetest.MustPut(t, a, storetest.NewFunction("alpha"))
	eventually(t, "b sees a's create", func() bool {
		f, err := b.Function(ctx, "alpha")
		return err == nil && f.Revision == rev
	})

	f := storetest.MustGet(t, b, "alpha").Clone()
	f.Latest.Description = "from b"
	rev = storetest.MustPut(t, b, f)
	eventually(t, "a sees b's update", func() bool {
		f, err := a.Function(ctx, "alpha")
		return err == nil && f.Revision == rev && f.Latest.Description == "from b"
	})

	if err := a.DeleteFunction(ctx, "alpha"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "b sees a's delete", func() bool {
		_, err := b.Function(ctx, "alpha")
		return lambada.ErrorCode(err) == lambada.ENOTFOUND
	})

	rev = storetest.MustPut(t, b, storetest.NewFunction("alpha"))
	eventually(t, "a sees b's recreate", func() bool {
		f, err := a.Function(ctx, "alpha")
		return err == nil && f.Revision == rev
	})
}

func TestFunctionStore_Close(t *testing.T) {
	n := MustOpen(t, t.TempDir())
	s := mustOpenStore(t, n)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.done:
	default:
		t.Fatal("the watcher is still running after Close")
	}
	s.Close() // twice is fine

	// Closing the node stops its own store's watcher too.
	n.Close()
	select {
	case <-n.Functions.done:
	default:
		t.Fatal("the node's watcher is still running after Close")
	}
}

// entry is a watched key-value entry.
type entry struct {
	key   string
	value string
	rev   uint64
	op    natsjs.KeyValueOp
}

func (e entry) Bucket() string               { return FunctionsBucket }
func (e entry) Key() string                  { return e.key }
func (e entry) Value() []byte                { return []byte(e.value) }
func (e entry) Revision() uint64             { return e.rev }
func (e entry) Created() time.Time           { return time.Time{} }
func (e entry) Delta() uint64                { return 0 }
func (e entry) Operation() natsjs.KeyValueOp { return e.op }

func TestFunctionStore_Apply(t *testing.T) {
	ctx := t.Context()
	s := &FunctionStore{logger: slog.New(slog.DiscardHandler), cache: make(map[string]cached)}
	put := func(rev uint64, desc string) entry {
		return entry{key: "alpha", rev: rev, op: natsjs.KeyValuePut, value: `{"name":"alpha","latest":{"description":"` + desc + `"}}`}
	}
	del := func(rev uint64) entry { return entry{key: "alpha", rev: rev, op: natsjs.KeyValuePurge} }
	want := func(step string, rev uint64, desc string) {
		t.Helper()
		f, err := s.Function(ctx, "alpha")
		switch {
		case desc == "" && lambada.ErrorCode(err) != lambada.ENOTFOUND:
			t.Errorf("%s: Function = %v, %v; want not found", step, f, err)
		case desc != "" && (err != nil || f.Revision != rev || f.Latest.Description != desc):
			t.Errorf("%s: Function = %+v, %v; want revision %d, %q", step, f, err, rev, desc)
		}
	}

	s.apply(put(5, "five"))
	want("put 5", 5, "five")
	s.apply(put(3, "three"))
	want("late put 3", 5, "five")
	s.apply(del(4))
	want("late delete 4", 5, "five")
	s.apply(del(6))
	want("delete 6", 0, "")
	s.apply(put(5, "five"))
	want("late put 5 after delete", 0, "")
	s.apply(put(7, "seven"))
	want("put 7", 7, "seven")
	s.apply(entry{key: "alpha", rev: 8, op: natsjs.KeyValuePut, value: "{not json"})
	want("undecodable 8", 7, "seven")

	// This node's own delete of revision 9: the purge marker (10) and any
	// late delivery of 9 change nothing; a later create (11) shows.
	s.apply(put(9, "nine"))
	s.set("alpha", nil, 9+1)
	want("own delete", 0, "")
	s.apply(put(9, "nine"))
	want("late put 9 after own delete", 0, "")
	s.apply(del(10))
	want("purge marker 10", 0, "")
	s.apply(put(11, "eleven"))
	want("put 11", 11, "eleven")
}
