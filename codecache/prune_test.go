package codecache_test

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

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
