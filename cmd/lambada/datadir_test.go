package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lambada-dev/lambada/codecache"
)

// A second node on a data directory in use refuses to start, before it
// opens the store, and names the process that holds the directory; once
// that one stops, the directory is free again.
func TestServe_DataDirInUse(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	t.Cleanup(func() { codecache.RemoveAll(dir) })

	// The holder is a real `lambada serve` in a child process.
	child, _ := childNode(t, dir)
	data := filepath.Join(dir, "data")
	second := &Main{Listen: "127.0.0.1:0", Data: data, Region: "us-east-1", Account: "000000000000"}
	err := second.Open(t.Context())
	want := fmt.Sprintf("the data directory %s is in use by process %d", data, child.Pid)
	if err == nil || !strings.Contains(err.Error(), want) {
		second.Close()
		t.Fatalf("second node on %s: %v, want %q", data, err, want)
	}
	if _, err := os.Stat(filepath.Join(data, "nats", "jetstream", "$G", "streams", "lambada_events", "msgs")); err != nil {
		t.Fatalf("the child's store is not there: %v", err)
	}
	if err := child.Close(); err != nil {
		t.Fatal(err)
	}
	m := MustOpenMain(t, data)
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
}
