package walls

import (
	"log/slog"
	"os"
	"path/filepath"
	"testing"
)

// escScript runs ESC_SCRIPT (a file) as the bootstrap in the jail, with
// extra files from ESC_EXTRA (a directory) copied beside it, and prints the
// output.
func TestEscape(t *testing.T) {
	script := os.Getenv("ESC_SCRIPT")
	if script == "" {
		t.Skip("no ESC_SCRIPT")
	}
	b, err := os.ReadFile(script)
	if err != nil {
		t.Fatal(err)
	}
	j := testJail(t)
	code := codeDir(t, string(b))
	if extra := os.Getenv("ESC_EXTRA"); extra != "" {
		ents, _ := os.ReadDir(extra)
		for _, e := range ents {
			data, err := os.ReadFile(filepath.Join(extra, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(code, e.Name()), data, 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	h := Detect(slog.New(slog.DiscardHandler))
	if os.Getenv("ESC_NOCG") != "" {
		h = WatchOnly()
	}
	out, m := runJailed(t, h, Spec{MemoryMB: 256, Jail: j, Code: code})
	t.Logf("uid %d; code %s\n%s", m.UID(), code, out)
}
