package runtimes

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Discovery finds the host's interpreters: /usr/bin/python3.X, and node
// under the runtime of its major version.
func TestAvailable(t *testing.T) {
	if _, err := os.Stat("/usr/bin/python3.11"); err == nil && !slices.Contains(Available(), "python3.11") {
		t.Errorf("/usr/bin/python3.11 was not found: %v", Available())
	}
	if out, err := exec.Command("/usr/bin/node", "--version").Output(); err == nil {
		major := strings.Split(strings.TrimPrefix(strings.TrimSpace(string(out)), "v"), ".")[0]
		if !slices.Contains(Available(), "nodejs"+major+".x") {
			t.Errorf("/usr/bin/node %s was not found: %v", out, Available())
		}
	}
	for _, r := range Available() {
		start, ok := Command(r)
		if !ok || len(start.Args) < 3 || script(start.Args[0]) {
			t.Errorf("%s starts as %q", r, start.Args[:min(len(start.Args), 2)])
		}
	}
}

// Use resolves links to the real executable and refuses scripts (a
// version manager's shims) and runtimes Lambada has no client of.
func TestUse(t *testing.T) {
	dir := t.TempDir()
	shim := filepath.Join(dir, "python3.13")
	if err := os.WriteFile(shim, []byte("#!/bin/sh\nexec python3 \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := Use("python3.13", shim); err == nil {
		t.Errorf("a shim was accepted")
	}
	if err := Use("ruby3.3", "/bin/true"); err == nil {
		t.Errorf("a runtime without a client was accepted")
	}
	real, err := filepath.EvalSymlinks("/bin/true")
	if err != nil {
		t.Skip(err)
	}
	link := filepath.Join(dir, "node")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	if err := Use("nodejs24.x", link); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mu.Lock(); delete(given, "nodejs24.x"); mu.Unlock() })
	if start, ok := Command("nodejs24.x"); !ok || start.Args[0] != real || start.Args[1] != "-e" {
		t.Errorf("nodejs24.x starts as %q, want %s -e …", start.Args[:2], real)
	}
}
