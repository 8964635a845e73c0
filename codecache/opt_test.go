package codecache_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/lambada-dev/lambada/inmem"
)

// Layers merge in order into one tree, as AWS merges them at /opt: a later
// layer's entry replaces an earlier one's of any kind (a file over a
// directory and its tree, a directory over a file, a link over a link).
func TestOpt(t *testing.T) {
	c := MustCache(t, &inmem.Store{})
	first := MustStore(t, c, Zip(t,
		File("which.txt", "first", 0o644),
		File("python/mod.py", "one", 0o644),
		File("tree/deep/a.txt", "a", 0o644),
		Dir("listed/", 0o755), File("listed/b.txt", "b", 0o644),
		File("file", "f", 0o644),
		File("nodejs/node_modules/t/cli.js", "cli", 0o644),
		Link("nodejs/node_modules/.bin/t", "../t/cli.js"),
		File("kept.txt", "kept", 0o644),
	))
	second := MustStore(t, c, Zip(t,
		File("which.txt", "second", 0o644),
		File("tree", "now a file", 0o644),
		File("listed", "now a file too", 0o644),
		File("file/inside.txt", "now a directory", 0o644),
		Link("nodejs/node_modules/.bin/t", "../t/cli.js"),
	))
	dir, err := c.Opt(t.Context(), []string{first, second})
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"which.txt": "second", "python/mod.py": "one", "tree": "now a file", "listed": "now a file too",
		"file/inside.txt": "now a directory", "nodejs/node_modules/.bin/t": "cli", "kept.txt": "kept",
	} {
		if b, err := os.ReadFile(filepath.Join(dir, name)); err != nil || string(b) != want {
			t.Errorf("%s: %q, %v; want %q", name, b, err, want)
		}
	}
	again, err := c.Opt(t.Context(), []string{first, second})
	if err != nil || again != dir {
		t.Errorf("the same layers again: %s, %v; want %s", again, err, dir)
	}
	other, err := c.Opt(t.Context(), []string{second, first})
	if err != nil || other == dir {
		t.Fatalf("the other order: %s, %v", other, err)
	}
	if b, _ := os.ReadFile(filepath.Join(other, "which.txt")); string(b) != "first" {
		t.Errorf("in the other order which.txt is %q", b)
	}
}
