// Package storetest is the one conformance test body that every
// implementation of lambada.FunctionStore and lambada.CodeStore must pass
// (inmem, jetstream). Each implementation's tests call FunctionStore and
// CodeStore with a function that opens a fresh, empty store.
package storetest

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/lambada-dev/lambada"
)

// FunctionStore runs the conformance tests of lambada.FunctionStore. open
// returns a new, empty store and arranges its closing with t.Cleanup.
func FunctionStore(t *testing.T, open func(t *testing.T) lambada.FunctionStore) {
	ctx := t.Context()

	t.Run("Create", func(t *testing.T) {
		s := open(t)
		f := NewFunction("alpha")
		rev := MustPut(t, s, f)
		if rev == 0 {
			t.Fatal("PutFunction returned revision 0")
		}
		if f.Revision != 0 {
			t.Errorf("PutFunction changed its argument's Revision to %d", f.Revision)
		}
		got := MustGet(t, s, "alpha")
		if got.Revision != rev {
			t.Errorf("Revision = %d, want %d", got.Revision, rev)
		}
		wantSame(t, got, f)
	})

	t.Run("NotFound", func(t *testing.T) {
		s := open(t)
		_, err := s.Function(ctx, "missing")
		WantCode(t, err, lambada.ENOTFOUND)
		WantCode(t, s.DeleteFunction(ctx, "missing"), lambada.ENOTFOUND)
	})

	// Functions of two accounts may share a name: each is its own record,
	// under its AccountKey.
	t.Run("Accounts", func(t *testing.T) {
		s := open(t)
		own, other := NewFunction("alpha"), NewFunction("alpha")
		other.Account = "111111111111"
		other.Latest.Description = "the other account's"
		MustPut(t, s, own)
		MustPut(t, s, other)
		if got := MustGet(t, s, "alpha"); got.Account != "" || got.Latest.Description != "first" {
			t.Errorf("the node's own alpha: %+v", got)
		}
		got := MustGet(t, s, "111111111111/alpha")
		if got.Account != "111111111111" || got.Name != "alpha" || got.Latest.Description != "the other account's" {
			t.Errorf("the other account's alpha: %q %q %q", got.Account, got.Name, got.Latest.Description)
		}
		if all := names(t, s); all != "[alpha alpha]" {
			t.Errorf("Functions: %s", all)
		}
		if err := s.DeleteFunction(ctx, "111111111111/alpha"); err != nil {
			t.Fatal(err)
		}
		if got := MustGet(t, s, "alpha"); got.Latest.Description != "first" {
			t.Errorf("deleting the other's removed the own")
		}
		_, err := s.Function(ctx, "111111111111/alpha")
		WantCode(t, err, lambada.ENOTFOUND)
	})

	t.Run("CreateExisting", func(t *testing.T) {
		s := open(t)
		MustPut(t, s, NewFunction("alpha"))
		f := NewFunction("alpha")
		f.Latest.Description = "second"
		_, err := s.PutFunction(ctx, f)
		WantCode(t, err, lambada.ECONFLICT)
		if got := MustGet(t, s, "alpha"); got.Latest.Description == "second" {
			t.Error("a conflicting create overwrote the record")
		}
	})

	t.Run("Update", func(t *testing.T) {
		s := open(t)
		rev1 := MustPut(t, s, NewFunction("alpha"))
		f := MustGet(t, s, "alpha").Clone()
		f.Latest.Description = "second"
		rev2 := MustPut(t, s, f)
		if rev2 <= rev1 {
			t.Errorf("revision after update = %d, want more than %d", rev2, rev1)
		}
		got := MustGet(t, s, "alpha")
		if got.Revision != rev2 || got.Latest.Description != "second" {
			t.Errorf("after update: Revision %d, Description %q; want %d, %q", got.Revision, got.Latest.Description, rev2, "second")
		}

		stale := got.Clone()
		stale.Revision = rev1
		stale.Latest.Description = "stale"
		_, err := s.PutFunction(ctx, stale)
		WantCode(t, err, lambada.EPRECONDITION)
		if got := MustGet(t, s, "alpha"); got.Latest.Description != "second" {
			t.Errorf("a stale update was stored: Description %q", got.Latest.Description)
		}
	})

	t.Run("UpdateMissing", func(t *testing.T) {
		s := open(t)
		f := NewFunction("alpha")
		f.Revision = 7
		_, err := s.PutFunction(ctx, f)
		WantCode(t, err, lambada.EPRECONDITION)
	})

	t.Run("List", func(t *testing.T) {
		s := open(t)
		if fs, err := s.Functions(ctx); err != nil || len(fs) != 0 {
			t.Fatalf("Functions of an empty store = %d functions, %v", len(fs), err)
		}
		for _, name := range []string{"charlie", "alpha", "bravo"} {
			MustPut(t, s, NewFunction(name))
		}
		if got, want := names(t, s), "[alpha bravo charlie]"; got != want {
			t.Errorf("Functions = %s, want %s", got, want)
		}
	})

	t.Run("Delete", func(t *testing.T) {
		s := open(t)
		rev := MustPut(t, s, NewFunction("alpha"))
		MustPut(t, s, NewFunction("bravo"))
		if err := s.DeleteFunction(ctx, "alpha"); err != nil {
			t.Fatalf("DeleteFunction: %v", err)
		}
		_, err := s.Function(ctx, "alpha")
		WantCode(t, err, lambada.ENOTFOUND)
		if got, want := names(t, s), "[bravo]"; got != want {
			t.Errorf("Functions after delete = %s, want %s", got, want)
		}
		WantCode(t, s.DeleteFunction(ctx, "alpha"), lambada.ENOTFOUND)

		f := NewFunction("alpha")
		f.Revision = rev
		_, err = s.PutFunction(ctx, f)
		WantCode(t, err, lambada.EPRECONDITION)
	})

	t.Run("Recreate", func(t *testing.T) {
		s := open(t)
		rev1 := MustPut(t, s, NewFunction("alpha"))
		if err := s.DeleteFunction(ctx, "alpha"); err != nil {
			t.Fatalf("DeleteFunction: %v", err)
		}
		f := NewFunction("alpha")
		f.Latest.Description = "again"
		rev2 := MustPut(t, s, f)
		if rev2 <= rev1 {
			t.Errorf("revision after recreate = %d, want more than %d", rev2, rev1)
		}
		got := MustGet(t, s, "alpha")
		if got.Revision != rev2 || got.Latest.Description != "again" {
			t.Errorf("after recreate: Revision %d, Description %q", got.Revision, got.Latest.Description)
		}
	})

	t.Run("SharedValuesUnchanged", func(t *testing.T) {
		s := open(t)
		f := NewFunction("alpha")
		MustPut(t, s, f)
		f.Latest.Environment["KEY"] = "changed by the caller" // after the write
		f.Latest.Architectures[0] = "arm64"

		held := MustGet(t, s, "alpha")
		list, err := s.Functions(ctx)
		if err != nil {
			t.Fatal(err)
		}
		before, _ := json.Marshal(held)
		listBefore, _ := json.Marshal(list)
		rev := held.Revision

		next := held.Clone()
		next.Latest.Description = "second"
		next.Latest.Environment["KEY"] = "second"
		MustPut(t, s, next)

		after, _ := json.Marshal(held)
		if string(after) != string(before) || held.Revision != rev {
			t.Errorf("a returned *Function changed after a later write:\n%s\n%s", before, after)
		}
		if listAfter, _ := json.Marshal(list); string(listAfter) != string(listBefore) {
			t.Errorf("a listed *Function changed after a later write:\n%s\n%s", listBefore, listAfter)
		}
		if got := MustGet(t, s, "alpha"); got.Latest.Environment["KEY"] != "second" || got.Latest.Architectures[0] != "x86_64" {
			t.Errorf("the store shares memory with PutFunction's argument: %+v", got.Latest)
		}
	})

	t.Run("ConcurrentCreate", func(t *testing.T) {
		s := open(t)
		codes := concurrently(8, func(int) error {
			_, err := s.PutFunction(ctx, NewFunction("alpha"))
			return err
		})
		if codes[""] != 1 || codes[lambada.ECONFLICT] != 7 {
			t.Errorf("8 concurrent creates: %v, want one success and 7 conflicts", codes)
		}
	})

	t.Run("ConcurrentUpdate", func(t *testing.T) {
		s := open(t)
		MustPut(t, s, NewFunction("alpha"))
		base := MustGet(t, s, "alpha")
		codes := concurrently(8, func(i int) error {
			f := base.Clone()
			f.Latest.Description = fmt.Sprint("writer ", i)
			_, err := s.PutFunction(ctx, f)
			return err
		})
		if codes[""] != 1 || codes[lambada.EPRECONDITION] != 7 {
			t.Errorf("8 concurrent updates: %v, want one success and 7 precondition failures", codes)
		}
	})
}

// NewFunction returns a function with every field of its configuration set.
func NewFunction(name string) *lambada.Function {
	return &lambada.Function{
		Name: name,
		Latest: lambada.FunctionConfig{
			Version:          lambada.LatestVersion,
			Runtime:          lambada.RuntimeProvidedAL2023,
			Handler:          "bootstrap",
			Role:             "arn:aws:iam::123456789012:role/lambda",
			Description:      "first",
			Timeout:          lambada.DefaultTimeout,
			MemorySize:       lambada.DefaultMemorySize,
			Environment:      map[string]string{"KEY": "value"},
			Architectures:    []string{"x86_64"},
			EphemeralStorage: 512,
			PackageType:      "Zip",
			CodeSha256:       "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
			CodeSize:         22,
			RevisionID:       "6b1f5f1c-2a53-4b5f-9a47-0c1f3e3c0c11",
			LastModified:     time.Date(2025, 11, 25, 10, 0, 0, 0, time.UTC),
		},
	}
}

// MustPut writes f and returns its new revision.
func MustPut(tb testing.TB, s lambada.FunctionStore, f *lambada.Function) uint64 {
	tb.Helper()
	rev, err := s.PutFunction(tb.Context(), f)
	if err != nil {
		tb.Fatalf("PutFunction(%s, revision %d): %v", f.Name, f.Revision, err)
	}
	return rev
}

// MustGet returns the function named name.
func MustGet(tb testing.TB, s lambada.FunctionStore, name string) *lambada.Function {
	tb.Helper()
	f, err := s.Function(tb.Context(), name)
	if err != nil {
		tb.Fatalf("Function(%s): %v", name, err)
	}
	return f
}

// WantCode fails tb unless err's lambada error code is code.
func WantCode(tb testing.TB, err error, code string) {
	tb.Helper()
	if got := lambada.ErrorCode(err); got != code {
		tb.Errorf("error %v: code %q, want %q", err, got, code)
	}
}

// wantSame fails t unless got and want are the same record (ignoring Revision).
func wantSame(t *testing.T, got, want *lambada.Function) {
	t.Helper()
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if string(g) != string(w) {
		t.Errorf("stored function differs:\n got %s\nwant %s", g, w)
	}
}

func names(t *testing.T, s lambada.FunctionStore) string {
	t.Helper()
	fs, err := s.Functions(t.Context())
	if err != nil {
		t.Fatalf("Functions: %v", err)
	}
	var out []string
	for _, f := range fs {
		out = append(out, f.Name)
	}
	return fmt.Sprint(out)
}

// concurrently runs n calls of f at once and counts their error codes.
func concurrently(n int, f func(i int) error) map[string]int {
	var (
		mu    sync.Mutex
		wg    sync.WaitGroup
		codes = make(map[string]int)
		start = make(chan struct{})
	)
	for i := range n {
		wg.Go(func() {
			<-start
			code := lambada.ErrorCode(f(i))
			mu.Lock()
			codes[code]++
			mu.Unlock()
		})
	}
	close(start)
	wg.Wait()
	return codes
}
