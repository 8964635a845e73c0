package codecache_test

import (
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/lambada-dev/lambada"
	"github.com/lambada-dev/lambada/codecache"
	"github.com/lambada-dev/lambada/inmem"
	"github.com/lambada-dev/lambada/internal/storetest"
)

// The consumers' views of a Cache.
var (
	_ interface {
		StoreCode(ctx context.Context, key string, zip []byte) error
		Code(ctx context.Context, key string) ([]byte, error)
	} = (*codecache.Cache)(nil)
	_ interface {
		Path(ctx context.Context, key string) (string, error)
	} = (*codecache.Cache)(nil)
)

// MustCache returns a Cache in a temporary directory over store.
func MustCache(tb testing.TB, store lambada.CodeStore) *codecache.Cache {
	tb.Helper()
	dir := filepath.Join(tb.TempDir(), "code")
	tb.Cleanup(func() {
		if err := codecache.RemoveAll(dir); err != nil {
			tb.Error(err)
		}
	})
	return &codecache.Cache{Dir: dir, Store: store}
}

// MustStore stores zip through c and returns its key.
func MustStore(tb testing.TB, c *codecache.Cache, zip []byte) string {
	tb.Helper()
	key := storetest.Key(zip)
	if err := c.StoreCode(tb.Context(), key, zip); err != nil {
		tb.Fatalf("StoreCode: %v", err)
	}
	return key
}

func MustPath(tb testing.TB, c *codecache.Cache, key string) string {
	tb.Helper()
	dir, err := c.Path(tb.Context(), key)
	if err != nil {
		tb.Fatalf("Path: %v", err)
	}
	return dir
}

func TestStoreCode_Permissions(t *testing.T) {
	store := &inmem.Store{}
	c := MustCache(t, store)
	zip := Zip(t,
		File("bootstrap", "#!/bin/sh\necho hello from bootstrap\n", 0o755),
		File("lib/data.txt", "data", 0o640),
		File("setuid", "x", 0o4755|fs.ModeSetuid),
		Dir("bin/", 0o750),
		Link("lib/boot", "../bootstrap"),
		Link("dangling", "lib/missing"),
		Plain("plain.txt", "no unix mode"),
		Plain("pydir/", ""),
	)
	key := MustStore(t, c, zip)
	storetest.MustCode(t, store, key, zip)
	if got, err := c.Code(t.Context(), key); err != nil || string(got) != string(zip) {
		t.Errorf("Code = %d bytes, %v", len(got), err)
	}

	dir := MustPath(t, c, key)
	if dir != filepath.Join(c.Dir, key) {
		t.Errorf("Path = %s, want %s", dir, filepath.Join(c.Dir, key))
	}
	for name, want := range map[string]fs.FileMode{
		".":            fs.ModeDir | 0o555,
		"bootstrap":    0o555,
		"lib":          fs.ModeDir | 0o555,
		"lib/data.txt": 0o440,
		"setuid":       0o555,
		"bin":          fs.ModeDir | 0o550,
		"plain.txt":    0o444,
		"pydir":        fs.ModeDir | 0o555,
		"lib/boot":     fs.ModeSymlink | 0o777,
		"dangling":     fs.ModeSymlink | 0o777,
	} {
		fi, err := os.Lstat(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("%s: %v", name, err)
		} else if fi.Mode() != want {
			t.Errorf("%s: mode %s, want %s", name, fi.Mode(), want)
		}
	}
	out, err := exec.CommandContext(t.Context(), filepath.Join(dir, "lib/boot")).Output()
	if err != nil || string(out) != "hello from bootstrap\n" {
		t.Errorf("running bootstrap through its symlink: %q, %v", out, err)
	}
	if entries, _ := os.ReadDir(c.Dir); len(entries) != 1 {
		t.Errorf("Dir holds %d entries, want only the unpacked archive", len(entries))
	}

	// Storing it again is fine and keeps the tree.
	MustStore(t, c, zip)
}

func TestStoreCode_Invalid(t *testing.T) {
	const unzipMsg = "Could not unzip uploaded file. Please check your file, then try to upload again."
	for _, tc := range []struct {
		name string
		zip  []byte
		msg  string
	}{
		{"NotZip", []byte("this is not a zip file"), unzipMsg},
		{"Empty", nil, unzipMsg},
		{"DotDot", Zip(t, File("../evil", "x", 0o644)), unzipMsg},
		{"DotDotInside", Zip(t, File("a/../../evil", "x", 0o644)), unzipMsg},
		{"Absolute", Zip(t, File("/tmp/evil", "x", 0o644)), unzipMsg},
		{"LinkAbsolute", Zip(t, Link("passwd", "/etc/passwd")), unzipMsg},
		{"Fifo", Zip(t, File("pipe", "", fs.ModeNamedPipe|0o644)), unzipMsg},
		{"TooLarge", Huge(t, lambada.MaxUnzippedSize+1), "Unzipped size must be smaller than 262144000 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := &inmem.Store{}
			c := MustCache(t, store)
			key := storetest.Key(tc.zip)
			err := c.StoreCode(t.Context(), key, tc.zip)
			if lambada.ErrorCode(err) != lambada.EINVALID || lambada.ErrorMessage(err) != tc.msg {
				t.Fatalf("StoreCode: %v; want EINVALID %q", err, tc.msg)
			}
			_, err = store.Code(t.Context(), key)
			storetest.WantCode(t, err, lambada.ENOTFOUND)
			if entries, _ := os.ReadDir(c.Dir); len(entries) != 0 {
				t.Errorf("Dir holds %d entries after a refused archive", len(entries))
			}
		})
	}
}

// TestPath_Invalid: archives whose directory looks right but that do not
// unpack are stored (StoreCode reads no more than the directory), and Path
// refuses them without leaving anything behind.
func TestPath_Invalid(t *testing.T) {
	for _, tc := range []struct {
		name string
		zip  []byte
	}{
		{"Corrupt", Corrupt(t, Zip(t, File("a", strings.Repeat("data ", 100), 0o644)))},
		{"LinkUp", Zip(t, Link("up", "../outside"))},
		{"LinkThroughLink", Zip(t, Dir("a/", 0o755), Link("a/b", ".."), Link("c", "a/b/.."))},
		{"LinkLoop", Zip(t, Link("x", "y"), Link("y", "x"))},
		{"FileThroughLink", Zip(t, Dir("d/", 0o755), Link("l", "d"), File("l/x", "x", 0o644))},
		{"FileAndDir", Zip(t, File("a", "x", 0o644), File("a/b", "y", 0o644))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := MustCache(t, &inmem.Store{})
			key := MustStore(t, c, tc.zip)
			_, err := c.Path(t.Context(), key)
			if lambada.ErrorCode(err) != lambada.EINVALID || lambada.ErrorMessage(err) != "Could not unzip uploaded file. Please check your file, then try to upload again." {
				t.Fatalf("Path: %v; want EINVALID", err)
			}
			if entries, _ := os.ReadDir(c.Dir); len(entries) != 0 {
				t.Errorf("Dir holds %d entries after a failed unpack", len(entries))
			}
		})
	}
}

func TestStoreCode_WrongKey(t *testing.T) {
	c := MustCache(t, &inmem.Store{})
	zip := Zip(t, File("a", "x", 0o644))
	if err := c.StoreCode(t.Context(), storetest.Key([]byte("other")), zip); err == nil {
		t.Error("StoreCode accepted a key that is not the archive's SHA-256")
	}
	if err := c.StoreCode(t.Context(), "../x", zip); err == nil {
		t.Error("StoreCode accepted a malformed key")
	}
}

func TestPath_FromStore(t *testing.T) {
	store := &inmem.Store{}
	c := MustCache(t, store)
	zip := Zip(t, File("bootstrap", "#!/bin/sh\n", 0o755))
	key := MustStore(t, c, zip)

	// Another node, sharing only the store.
	other := MustCache(t, store)
	if fi, err := os.Stat(filepath.Join(MustPath(t, other, key), "bootstrap")); err != nil || fi.Mode() != 0o555 {
		t.Errorf("on another node: %v, %v", fi, err)
	}

	// This node after its cache was wiped.
	if err := codecache.RemoveAll(c.Dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(MustPath(t, c, key), "bootstrap")); err != nil {
		t.Errorf("after wiping the cache: %v", err)
	}

	_, err := c.Path(t.Context(), storetest.Key([]byte("never stored")))
	storetest.WantCode(t, err, lambada.ENOTFOUND)
}

// countingStore counts Code calls and holds the first until release closes.
type countingStore struct {
	lambada.CodeStore
	calls   atomic.Int32
	release chan struct{}
}

func (s *countingStore) Code(ctx context.Context, key string) ([]byte, error) {
	if s.calls.Add(1) == 1 {
		<-s.release
	}
	return s.CodeStore.Code(ctx, key)
}

func TestPath_Concurrent(t *testing.T) {
	inner := &inmem.Store{}
	zip := Zip(t, File("bootstrap", "#!/bin/sh\n", 0o755), File("lib/a.py", "pass\n", 0o644))
	key := storetest.Key(zip)
	if err := inner.PutCode(t.Context(), key, zip); err != nil {
		t.Fatal(err)
	}
	store := &countingStore{CodeStore: inner, release: make(chan struct{})}
	c := MustCache(t, store)

	const n = 16
	var wg sync.WaitGroup
	paths := make([]string, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { paths[i], errs[i] = c.Path(t.Context(), key) })
	}
	close(store.release)
	wg.Wait()
	for i := range n {
		if errs[i] != nil || paths[i] != filepath.Join(c.Dir, key) {
			t.Errorf("caller %d: %q, %v", i, paths[i], errs[i])
		}
	}
	if got := store.calls.Load(); got != 1 {
		t.Errorf("the archive was fetched %d times, want once", got)
	}
}

func TestCache_NoStore(t *testing.T) {
	c := &codecache.Cache{Dir: t.TempDir()}
	zip := Zip(t, File("a", "x", 0o644))
	if err := c.StoreCode(t.Context(), storetest.Key(zip), zip); err == nil {
		t.Error("StoreCode without a Store succeeded")
	}
}

// TestPath_TamperedArchive: an archive read back from the store that is not
// what its key says (corrupted or replaced there) is refused, not unpacked.
func TestPath_TamperedArchive(t *testing.T) {
	store := &inmem.Store{}
	c := MustCache(t, store)
	good := Zip(t, File("bootstrap", "#!/bin/sh\necho good\n", 0o755))
	evil := Zip(t, File("bootstrap", "#!/bin/sh\necho evil\n", 0o755))
	key := storetest.Key(good)
	if err := store.PutCode(t.Context(), key, evil); err != nil {
		t.Fatal(err)
	}
	if dir, err := c.Path(t.Context(), key); err == nil {
		t.Fatalf("Path unpacked an archive whose digest is not its key, into %s", dir)
	}
	if entries, _ := os.ReadDir(c.Dir); len(entries) != 0 {
		t.Fatalf("Dir holds %d entries after a refused archive", len(entries))
	}
}
