package walls

import (
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// The cgroups of a node that is gone are removed; those of live
// processes, and what is not an environment's cgroup, are not.
func TestSweep(t *testing.T) {
	home := t.TempDir()
	h := &hierarchy{home: home, parent: filepath.Join(home, "lambada")}
	dead := 4194303
	for alive(dead) {
		dead--
	}
	self := strconv.Itoa(os.Getpid())
	names := map[string]bool{ // name: removed
		strconv.Itoa(dead) + "-1":       true, // the name without a start time
		strconv.Itoa(dead) + ".12345-7": true,
		owner() + "-2":                  false, // this process
		self + ".1-4":                   true,  // this pid, another process (it started at another time)
		"1-3":                           false, // init is alive
		"notanenv":                      false,
	}
	for name := range names {
		if err := os.MkdirAll(filepath.Join(h.parent, name), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	removed := (&Host{h: h}).Sweep(slog.New(slog.DiscardHandler))
	var want []string
	for name, gone := range names {
		if gone {
			want = append(want, filepath.Join(h.parent, name))
		}
		if _, err := os.Stat(filepath.Join(h.parent, name)); (err != nil) != gone {
			t.Errorf("%s: removed %v, want %v", name, err != nil, gone)
		}
	}
	slices.Sort(removed)
	slices.Sort(want)
	if !slices.Equal(removed, want) {
		t.Errorf("Sweep() = %q, want %q", removed, want)
	}
	if got := (&Host{}).Sweep(slog.New(slog.DiscardHandler)); got != nil {
		t.Errorf("without cgroups: %q", got)
	}
}

// A jail's sweep kills the processes of its uids, and only those.
func TestJail_Sweep(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to start processes as other users")
	}
	j, err := NewJail(t.TempDir(), 3_300_000, 3_300_009)
	if err != nil {
		t.Fatal(err)
	}
	start := func(uid uint32) *exec.Cmd {
		cmd := exec.Command("/bin/sleep", "60")
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid}}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		return cmd
	}
	left, other := start(3_300_005), start(3_300_010)
	killed := j.Sweep()
	if !slices.Equal(killed, []int{left.Process.Pid}) {
		t.Errorf("swept %v, want only %d", killed, left.Process.Pid)
	}
	if err := left.Wait(); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Errorf("the left-over process ended with %v", err)
	}
	if err := other.Process.Signal(syscall.Signal(0)); err != nil {
		t.Errorf("a process of another uid was hit: %v", err)
	}
}
