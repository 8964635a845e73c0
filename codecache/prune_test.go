package codecache_test

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/lambada-dev/lambada"
	"github.com/lambada-dev/lambada/codecache"
	"github.com/lambada-dev/lambada/inmem"
)

func TestPrune(t *testing.T) {
	c := MustCache(t, &inmem.Store{})
	kept := MustStore(t, c, Zip(t, File("bootstrap", "kept", 0o755)))
	unused := MustStore(t, c, Zip(t, File("bootstrap", "unused", 0o755)))
	young := MustStore(t, c, Zip(t, File("bootstrap", "young", 0o755)))
	for _, k := range []string{kept, unused, young} {
		MustPath(t, c, k)
	}
	old := time.Now().Add(-time.Hour)
	for _, k := range []string{kept, unused} {
		if err := os.Chtimes(filepath.Join(c.Dir, k), old, old); err != nil {
			t.Fatal(err)
		}
	}
	unpacking := filepath.Join(c.Dir, ".unpack-0123456789abcdef-1")
	if err := os.Mkdir(unpacking, 0o755); err != nil {
		t.Fatal(err)
	}
	removed, err := c.Prune(func(key string) bool { return key == kept }, time.Now().Add(-time.Minute))
	if err != nil || !slices.Equal(removed, []string{unused}) {
		t.Fatalf("removed %q (%v), want only %s", removed, err, unused)
	}
	for path, want := range map[string]bool{filepath.Join(c.Dir, kept): true, filepath.Join(c.Dir, unused): false,
		filepath.Join(c.Dir, young): true, unpacking: true} {
		if _, err := os.Stat(path); (err == nil) != want {
			t.Errorf("%s: exists %v, want %v", path, err == nil, want)
		}
	}
	// A pruned archive is unpacked again from the store when asked for.
	if dir := MustPath(t, c, unused); dir != filepath.Join(c.Dir, unused) {
		t.Fatalf("Path = %s", dir)
	}
	if _, err := os.Stat(filepath.Join(c.Dir, unused, "bootstrap")); err != nil {
		t.Fatal(err)
	}
}

func TestSweep(t *testing.T) {
	c := MustCache(t, &inmem.Store{})
	key := MustStore(t, c, Zip(t, File("bootstrap", "x", 0o755)))
	MustPath(t, c, key)
	half := filepath.Join(c.Dir, ".unpack-0123456789abcdef-42")
	if err := os.MkdirAll(filepath.Join(half, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(half, "sub", "f"), []byte("x"), 0o444); err != nil {
		t.Fatal(err)
	}
	removed, err := c.Sweep()
	if err != nil || !slices.Equal(removed, []string{half}) {
		t.Fatalf("Sweep() = %q, %v", removed, err)
	}
	if _, err := os.Stat(half); !os.IsNotExist(err) {
		t.Fatalf("%s remains: %v", half, err)
	}
	if _, err := os.Stat(filepath.Join(c.Dir, key, "bootstrap")); err != nil {
		t.Fatalf("unpacked code swept: %v", err)
	}
}

// The Pruner deletes a stored archive once two passes found no function
// using it; one a function takes up between the passes stays.
func TestPruner_Store(t *testing.T) {
	store := &inmem.Store{}
	c := MustCache(t, store)
	used := MustStore(t, c, Zip(t, File("bootstrap", "used", 0o755)))
	unused := MustStore(t, c, Zip(t, File("bootstrap", "unused", 0o755)))
	reused := MustStore(t, c, Zip(t, File("bootstrap", "reused", 0o755)))
	fn := func(name, key string) *lambada.Function {
		sum, _ := hex.DecodeString(key)
		f := &lambada.Function{Name: name, Latest: lambada.NewFunctionConfig()}
		f.Latest.CodeSha256 = base64.StdEncoding.EncodeToString(sum)
		return f
	}
	if _, err := store.PutFunction(t.Context(), fn("f", used)); err != nil {
		t.Fatal(err)
	}
	p := &codecache.Pruner{Cache: c, Functions: store, MinAge: time.Nanosecond}
	stored := func() []string {
		list, err := store.StoredCode(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		for _, s := range list {
			keys = append(keys, s.Key)
		}
		slices.Sort(keys)
		return keys
	}
	all := []string{used, unused, reused}
	slices.Sort(all)
	p.Pass(t.Context())
	if got := stored(); !slices.Equal(got, all) {
		t.Fatalf("after one pass: %q, want all three", got)
	}
	if _, err := store.PutFunction(t.Context(), fn("g", reused)); err != nil {
		t.Fatal(err)
	}
	p.Pass(t.Context())
	want := []string{used, reused}
	slices.Sort(want)
	if got := stored(); !slices.Equal(got, want) {
		t.Fatalf("after two passes: %q, want %q", got, want)
	}
}

// Path racing Prune never hands out a directory that is gone.
func TestPath_WhilePruned(t *testing.T) {
	c := MustCache(t, &inmem.Store{})
	var files []entry
	for i := range 1500 {
		files = append(files, File(fmt.Sprintf("d%d/f%d", i%30, i), "x", 0o644))
	}
	key := MustStore(t, c, Zip(t, files...))
	for try := range 5 {
		MustPath(t, c, key)
		old := time.Now().Add(-time.Hour)
		if err := os.Chtimes(filepath.Join(c.Dir, key), old, old); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			_, _ = c.Prune(func(string) bool { return false }, time.Now())
		}()
		for pruning := true; pruning; {
			select {
			case <-done:
				pruning = false
			default:
				_, _ = c.Path(t.Context(), key)
			}
		}
		dir := MustPath(t, c, key)
		if _, err := os.Stat(dir); err != nil {
			t.Fatalf("try %d: Path = %s, which does not exist: %v", try, dir, err)
		}
	}
}

// An unpacked archive stays for Grace after no function uses it any more:
// an environment of the configuration just dropped may still run in it.
func TestPruner_Grace(t *testing.T) {
	for _, tc := range []struct {
		grace time.Duration
		kept  bool
	}{{time.Hour, true}, {time.Nanosecond, false}} {
		c := MustCache(t, &inmem.Store{})
		key := MustStore(t, c, Zip(t, File("bootstrap", "x", 0o755)))
		dir := MustPath(t, c, key)
		p := &codecache.Pruner{Cache: c, Functions: &inmem.Store{}, MinAge: time.Nanosecond, Grace: tc.grace}
		p.Pass(t.Context()) // first seen unused: kept whatever the grace
		if _, err := os.Stat(dir); err != nil {
			t.Fatalf("grace %v: removed at the first pass that saw it unused", tc.grace)
		}
		p.Pass(t.Context())
		if _, err := os.Stat(dir); (err == nil) != tc.kept {
			t.Fatalf("grace %v: kept %v after two passes, want %v", tc.grace, err == nil, tc.kept)
		}
	}
}
