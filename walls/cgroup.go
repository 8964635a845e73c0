package walls

// Memory cgroups: where Lambada can make them on this host.
//
// Each execution environment gets its own memory cgroup whose limit is the
// function's MemorySize (memcg.go). The host may offer cgroup v2 with the
// memory controller, cgroup v1's memory hierarchy, or neither; detection
// runs once per process and prefers v2. Lambada's cgroups live under the
// server's own cgroup (/proc/self/cgroup), in a directory named "lambada"
// that exists while this process has environments and is removed with the
// last one, so that whoever made the server's cgroup can remove it.

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// hierarchy is a cgroup hierarchy with the memory controller in which this
// process can make cgroups.
type hierarchy struct {
	v2     bool
	home   string // the server's own cgroup directory
	parent string // home/lambada: the parent of the environments' cgroups

	mu          sync.Mutex
	seq         int
	envs        int                // environments' cgroups not yet released
	spare       *spare             // v1: a thread waiting in a fresh cgroup (spare.go)
	filling     chan struct{}      // closed when the spare being made is ready or failed
	orphans     []string           // spares' cgroups to remove once their thread is gone
	spareFailed bool               // making a spare failed: do not try again
	parked      map[Forker]*parked // each forker's next cgroup (park.go)
	parking     sync.WaitGroup     // parks on their way
	totalMB     int                // the parent's limit: all environments together (0: none)
}

func (h *hierarchy) String() string {
	if h.v2 {
		return "cgroup v2 " + h.parent
	}
	return "cgroup v1 " + h.parent
}

// detectHierarchy probes this process's cgroup candidates, v2 first, and
// logs what it chose and why the others were not usable.
func detectHierarchy(logger *slog.Logger) *hierarchy {
	mountinfo, err1 := os.ReadFile("/proc/self/mountinfo")
	self, err2 := os.ReadFile("/proc/self/cgroup")
	if err := errors.Join(err1, err2); err != nil {
		logger.Warn("memory limits: cannot read this process's cgroups; watching resident memory instead", "err", err)
		return nil
	}
	var reasons []string
	for _, h := range candidates(mountinfo, self) {
		err := h.probe()
		if err == nil {
			logger.Info("memory limits: one memory cgroup per environment", "cgroup", h.String())
			return h
		}
		reasons = append(reasons, err.Error())
	}
	logger.Warn("memory limits: no memory cgroup can be made; watching resident memory instead",
		"reasons", strings.Join(reasons, "; "))
	return nil
}

// cgMount is a mounted cgroup filesystem.
type cgMount struct {
	root, point string // the cgroup the mount shows, and where
	v2          bool
	memory      bool // v1: the memory controller is bound to this hierarchy
}

// parseMountinfo returns the cgroup mounts listed in /proc/<pid>/mountinfo.
func parseMountinfo(b []byte) []cgMount {
	var mounts []cgMount
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		// id parent maj:min root point options [optional...] - fstype source superoptions
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		f, g := strings.Fields(pre), strings.Fields(post)
		if !ok || len(f) < 5 || len(g) < 3 {
			continue
		}
		m := cgMount{root: unescapeMount(f[3]), point: unescapeMount(f[4])}
		switch g[0] {
		case "cgroup2":
			m.v2 = true
		case "cgroup":
			m.memory = hasWord(g[2], ',', "memory")
		default:
			continue
		}
		mounts = append(mounts, m)
	}
	return mounts
}

// unescapeMount decodes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// parseProcCgroup returns this process's cgroup in the v2 hierarchy and in
// v1's memory hierarchy, from /proc/<pid>/cgroup ("" when not listed).
func parseProcCgroup(b []byte) (v2, v1memory string) {
	for _, line := range strings.Split(string(b), "\n") {
		id, rest, ok1 := strings.Cut(line, ":")
		controllers, path, ok2 := strings.Cut(rest, ":")
		switch {
		case !ok1 || !ok2:
		case id == "0" && controllers == "":
			v2 = path
		case hasWord(controllers, ',', "memory"):
			v1memory = path
		}
	}
	return v2, v1memory
}

// candidates lists the hierarchies to try, v2 first: for each, the
// directory of this process's cgroup under a mount that shows it.
func candidates(mountinfo, procCgroup []byte) []*hierarchy {
	v2path, v1path := parseProcCgroup(procCgroup)
	var v2s, v1s []*hierarchy
	for _, m := range parseMountinfo(mountinfo) {
		path := v1path
		if m.v2 {
			path = v2path
		} else if !m.memory {
			continue
		}
		rel, ok := strings.CutPrefix(path, m.root)
		if path == "" || !ok || strings.Contains(path, "/..") || (rel != "" && rel[0] != '/' && m.root != "/") {
			continue // the mount does not show this process's cgroup
		}
		home := filepath.Join(m.point, rel)
		h := &hierarchy{v2: m.v2, home: home, parent: filepath.Join(home, "lambada")}
		if m.v2 {
			v2s = append(v2s, h)
		} else {
			v1s = append(v1s, h)
		}
	}
	return append(v2s, v1s...)
}

// probe checks that environments' cgroups can be made in h, making and
// removing its parent directory once.
func (h *hierarchy) probe() error {
	if h.v2 {
		if err := enableMemory(h.home); err != nil {
			return err
		}
	} else if _, err := os.Stat(filepath.Join(h.home, "memory.limit_in_bytes")); err != nil {
		return fmt.Errorf("cgroup v1 %s: no memory controller: %w", h.home, err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.makeParent(); err != nil {
		return err
	}
	_ = syscall.Rmdir(h.parent)
	return nil
}

// enableMemory makes sure dir's children get the memory controller. In v2
// a non-root cgroup that holds processes cannot give controllers to its
// children: a server run in such a cgroup needs a delegated subtree (e.g.
// systemd's Delegate=yes with DelegateSubgroup=) and falls back meanwhile.
func enableMemory(dir string) error {
	sub, err := os.ReadFile(filepath.Join(dir, "cgroup.subtree_control"))
	if err != nil {
		return fmt.Errorf("cgroup v2 %s: %w", dir, err)
	}
	if hasWord(strings.TrimSpace(string(sub)), ' ', "memory") {
		return nil
	}
	ctl, err := os.ReadFile(filepath.Join(dir, "cgroup.controllers"))
	if err != nil || !hasWord(strings.TrimSpace(string(ctl)), ' ', "memory") {
		return fmt.Errorf("cgroup v2 %s: the memory controller is not available", dir)
	}
	if err := writeCgroup(dir, "cgroup.subtree_control", "+memory"); err != nil {
		return fmt.Errorf("cgroup v2 %s: cannot enable memory for its children (a cgroup that holds processes cannot): %w", dir, err)
	}
	return nil
}

// makeParent makes h.parent if it is missing; h.mu is held.
func (h *hierarchy) makeParent() error {
	if err := os.Mkdir(h.parent, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%s: %w", h, err)
	}
	if h.v2 {
		if err := enableMemory(h.parent); err != nil {
			return err
		}
	}
	if h.totalMB == 0 {
		return nil // another process's limit on a parent it shares stays
	}
	return h.limitParent()
}

// limitParent limits the parent cgroup, and so every environment together,
// to totalMB (none when zero); h.mu is held. Memory an environment's
// processes leave charged to its cgroup after it ends (pages of a file it
// handed to another environment) still counts there.
func (h *hierarchy) limitParent() error {
	file, value := "memory.limit_in_bytes", "-1"
	if h.v2 {
		file, value = "memory.max", "max"
	}
	if h.totalMB > 0 {
		value = strconv.FormatInt(int64(h.totalMB)<<20, 10)
	}
	return writeCgroup(h.parent, file, value)
}

// LimitAll limits the memory of every environment together to mb
// megabytes (none when zero), in the cgroup that holds them all.
func (w *Host) LimitAll(mb int) error {
	if w.h == nil {
		return nil
	}
	h := w.h
	h.mu.Lock()
	defer h.mu.Unlock()
	h.totalMB = max(mb, 0)
	if _, err := os.Stat(h.parent); err != nil {
		return nil // made, and limited, with the next environment
	}
	return h.limitParent()
}

// newDir makes a fresh cgroup directory, and the parent first if it is
// missing (this process's last environment, or another process's, took it
// away).
func (h *hierarchy) newDir() (string, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.seq++
	dir := filepath.Join(h.parent, owner()+"-"+strconv.Itoa(h.seq))
	err := os.Mkdir(dir, 0o755)
	if errors.Is(err, fs.ErrNotExist) {
		if err = h.makeParent(); err == nil {
			err = os.Mkdir(dir, 0o755)
		}
	}
	if err != nil {
		return "", fmt.Errorf("walls: memory cgroup: %w", err)
	}
	return dir, nil
}

// writeCgroup writes a control file, which must exist.
func writeCgroup(dir, file, value string) error {
	f, err := os.OpenFile(filepath.Join(dir, file), os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(value)
	return errors.Join(err, f.Close())
}

// hasWord reports whether list, separated by sep, holds word.
func hasWord(list string, sep byte, word string) bool {
	for len(list) > 0 {
		var w string
		w, list, _ = strings.Cut(list, string(sep))
		if w == word {
			return true
		}
	}
	return false
}

// flatKeyed reads key's value from a cgroup "key value" file
// (memory.oom_control, memory.events).
func flatKeyed(b []byte, key string) (int64, bool) {
	for _, line := range bytes.Split(b, []byte("\n")) {
		k, v, ok := bytes.Cut(line, []byte(" "))
		if ok && string(k) == key {
			n, err := strconv.ParseInt(string(bytes.TrimSpace(v)), 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}
