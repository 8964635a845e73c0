package walls

import (
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Sweep removes the cgroups that a node which is no longer running left
// behind (it was killed): each environment's cgroup is named
// "<pid of its node>-<n>", and one whose node's process is gone is emptied
// (what still runs in it is killed: an orphan of that node) and removed.
// It returns the cgroups removed. The cgroups of live processes, this one
// included, are left alone.
func (w *Host) Sweep(logger *slog.Logger) []string {
	if w.h == nil {
		return nil
	}
	entries, err := os.ReadDir(w.h.parent)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			logger.Warn("walls: read the environments' cgroups", "dir", w.h.parent, "err", err)
		}
		return nil
	}
	var removed []string
	for _, e := range entries {
		owner, _, ok := strings.Cut(e.Name(), "-")
		pid, err := strconv.Atoi(owner)
		if !e.IsDir() || !ok || err != nil || pid <= 0 || alive(pid) {
			continue
		}
		dir := filepath.Join(w.h.parent, e.Name())
		removeCgroup(dir, logger)
		if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
			removed = append(removed, dir)
		}
	}
	return removed
}

// alive reports whether process pid exists.
func alive(pid int) bool {
	_, err := os.Stat("/proc/" + strconv.Itoa(pid))
	return err == nil
}
