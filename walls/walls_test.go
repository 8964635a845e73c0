package walls

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	pollpkg "github.com/lambada-dev/lambada/internal/poll"
)

// testHierarchy finds a usable hierarchy of one version, independently of
// the one Detect found.
func testHierarchy(v2 bool) (*hierarchy, error) {
	w, err := Probe(v2)
	if err != nil {
		return nil, err
	}
	return w.h, nil
}

// envCgroup returns the cgroup directory that process pid is in, which must
// be an environment's cgroup of h.
func envCgroup(t *testing.T, h *hierarchy, pid int) string {
	t.Helper()
	dir, err := (&Host{h: h}).CgroupOf(pid)
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// mustBeIdle checks that h holds nothing once its environments are gone.
func mustBeIdle(t *testing.T, h *hierarchy) {
	t.Helper()
	if err := (&Host{h: h}).Idle(); err != nil {
		t.Error(err)
	}
}

// mustHoldNoThreadOfOurs checks that no thread of this process is in the
// cgroup dir (v1 lists threads in tasks; v2's cgroup.threads), polling for
// a while: a spare's thread leaves when it has ended.
func mustHoldNoThreadOfOurs(t *testing.T, dir string) {
	t.Helper()
	pollpkg.Until(t, 5*time.Second, "no thread of this process is in "+dir, func() bool {
		tasks, err := os.ReadFile(filepath.Join(dir, "tasks"))
		if err != nil {
			tasks, err = os.ReadFile(filepath.Join(dir, "cgroup.threads"))
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, tid := range strings.Fields(string(tasks)) {
			if _, err := os.Stat("/proc/self/task/" + tid); err == nil {
				return false
			}
		}
		return true
	})
}
