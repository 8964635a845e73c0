package walls

import (
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"sync"
	"testing"
	"time"

	pollpkg "github.com/lambada-dev/lambada/internal/poll"
)

// fakeForker "forks" by starting sleep, and records what it was asked.
type fakeForker struct {
	mu        sync.Mutex
	preforked []string // cgroups, in order
	forkedIn  []string // spec.Cgroup of each fork
	discarded []string
	procs     []*os.Process
}

func (f *fakeForker) Fork(spec ForkSpec) (int, error) {
	cmd := exec.Command("/bin/sleep", "60")
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.forkedIn = append(f.forkedIn, spec.Cgroup)
	f.procs = append(f.procs, cmd.Process)
	return cmd.Process.Pid, nil
}

func (f *fakeForker) Prefork(cgroup string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.preforked = append(f.preforked, cgroup)
	return nil
}

func (f *fakeForker) Discard(cgroup string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.discarded = append(f.discarded, cgroup)
}

func (f *fakeForker) seen() (pre, in, disc []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.preforked), slices.Clone(f.forkedIn), slices.Clone(f.discarded)
}

// A forker's next environment gets the cgroup it parked a process in ahead
// of time, and the forker parks the next one; the last environment's end
// discards what is parked, and the host is idle again.
func TestPark(t *testing.T) {
	j := testJail(t)
	h := Detect(slog.New(slog.DiscardHandler))
	if h.h == nil {
		t.Skip("no memory cgroups here")
	}
	f := &fakeForker{}
	code := codeDir(t, "#!/bin/sh\n")
	start := func() *Memory {
		t.Helper()
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		defer w.Close()
		cmd := &exec.Cmd{Path: TaskRoot + "/bootstrap", Dir: TaskRoot, Stdout: w, Stderr: w}
		m, err := h.Start(cmd, Spec{MemoryMB: 64, Jail: j, Code: code, Fork: f}, slog.New(slog.DiscardHandler), func() {})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	parkedOne := func() string {
		t.Helper()
		pollpkg.Until(t, 10*time.Second, "a parked cgroup", func() bool {
			h.h.mu.Lock()
			defer h.h.mu.Unlock()
			p := h.h.parked[f]
			return p != nil && p.ready
		})
		pre, _, _ := f.seen()
		return pre[len(pre)-1]
	}
	first := start()
	_, in, _ := f.seen()
	if len(in) != 1 || in[0] == "" {
		t.Fatalf("the first fork was asked for cgroup %q", in)
	}
	parked := parkedOne()
	second := start()
	if _, in, _ = f.seen(); len(in) != 2 || in[1] != parked {
		t.Errorf("the second fork was in %q, want the parked %s", in, parked)
	}
	next := parkedOne()
	if next == parked {
		t.Errorf("the same cgroup was parked twice: %s", next)
	}
	for _, m := range []*Memory{first, second} {
		m.Close(slog.New(slog.DiscardHandler))
	}
	for _, p := range f.procs {
		_ = p.Kill()
		_, _ = p.Wait()
	}
	if _, _, disc := f.seen(); !slices.Equal(disc, []string{next}) {
		t.Errorf("discarded %q, want the parked %s", disc, next)
	}
	if _, err := os.Stat(next); !os.IsNotExist(err) {
		t.Errorf("the discarded parked cgroup is still there: %v", err)
	}
	if err := h.Idle(); err != nil {
		t.Error(err)
	}
}
