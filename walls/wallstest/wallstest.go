// Package wallstest holds checks on process walls for the tests of walls
// and of its users.
package wallstest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lambada-dev/lambada/internal/poll"
)

// MustHoldNoThreadOfOurs checks that no thread of this process is in the
// cgroup dir (v1 lists threads in tasks; v2's cgroup.threads), polling for
// a while: a spare's thread leaves when it has ended.
func MustHoldNoThreadOfOurs(t *testing.T, dir string) {
	t.Helper()
	poll.Until(t, 5*time.Second, "no thread of this process is in "+dir, func() bool {
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
