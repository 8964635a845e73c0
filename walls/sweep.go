package walls

import (
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// Sweep removes the cgroups that a node which is no longer running left
// behind (it was killed): each environment's cgroup is named
// "<pid>.<start time of its node>-<n>", and one whose node's process is
// gone is emptied (what still runs in it is killed: an orphan of that node)
// and removed.
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
		if !e.IsDir() || !gone(e.Name()) {
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

// owner is this process's name in its cgroups' names (see ownerOf).
var owner = sync.OnceValue(func() string {
	if o, ok := ownerOf(os.Getpid()); ok {
		return o
	}
	return strconv.Itoa(os.Getpid())
})

// ownerOf is "<pid>.<start time>" of process pid: its start time (field 22
// of /proc/<pid>/stat, clock ticks since boot) tells it from a later
// process that is given the same pid.
func ownerOf(pid int) (string, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return "", false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return "", false
	}
	f := strings.Fields(s[i+1:]) // f[0] is field 3
	if len(f) < 20 {
		return "", false
	}
	return strconv.Itoa(pid) + "." + f[19], true
}

// gone reports whether the process that named a cgroup "<owner>-<n>" has
// ended: no process has its pid, or the one that has it started at another
// time. Names without a start time ("<pid>-<n>") go by the pid alone.
func gone(name string) bool {
	o, _, ok := strings.Cut(name, "-")
	pidText, _, hasStart := strings.Cut(o, ".")
	pid, err := strconv.Atoi(pidText)
	if !ok || err != nil || pid <= 0 {
		return false // not an environment's cgroup
	}
	if !alive(pid) {
		return true
	}
	if !hasStart {
		return false
	}
	now, ok := ownerOf(pid)
	return ok && now != o
}

// Sweep kills every process of the jail's uids: what a node killed before
// it left of its environments where nothing else ended them (the
// parent-death signal does, and the cgroup sweep; this also covers a host
// without cgroups). It returns the pids it killed.
func (j *Jail) Sweep() []int {
	var killed []int
	for _, pid := range processesOf(j.first, j.last) {
		if syscall.Kill(pid, syscall.SIGKILL) == nil {
			killed = append(killed, pid)
		}
	}
	return killed
}

// processesOf lists the processes whose real uid is first to last.
func processesOf(first, last uint32) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/status")
		if err != nil {
			continue
		}
		_, rest, _ := strings.Cut(string(b), "\nUid:")
		f := strings.Fields(rest)
		if len(f) == 0 {
			continue
		}
		if uid, err := strconv.ParseUint(f[0], 10, 32); err == nil && uint32(uid) >= first && uint32(uid) <= last {
			pids = append(pids, pid)
		}
	}
	return pids
}
