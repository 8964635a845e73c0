package walls

// Parked forks: moving a process into a cgroup waits, often for an RCU
// grace period (spare.go): measured 6-17 ms for a zygote's child, most of a
// Python cold start. So each forker keeps one process parked ahead of time
// in a fresh cgroup of its own: the next environment it forks is that
// process, and that cgroup becomes the environment's, its limit set then.

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
)

// parked is a forker's next cgroup: ready once the forker's process waits
// in it.
type parked struct {
	dir   string
	ready bool
}

// newForkedMemcg makes the cgroup of an environment forked by f, limited to
// mb megabytes: f's parked one when ready (its process is there already),
// else a fresh one its process moves into. Either way f's next one is
// readied.
func newForkedMemcg(h *hierarchy, mb int, f Forker, logger *slog.Logger) (*memcg, error) {
	h.mu.Lock()
	h.envs++
	g := &memcg{h: h}
	if p := h.parked[f]; p != nil && p.ready {
		g.dir = p.dir
		delete(h.parked, f)
	}
	h.parkLocked(f, logger)
	h.mu.Unlock()
	if g.dir == "" {
		dir, err := h.newDir()
		if err != nil {
			h.release(logger)
			return nil, err
		}
		g.dir = dir
	}
	if err := setLimit(g.dir, h.v2, int64(mb)<<20); err != nil {
		g.remove(logger)
		return nil, fmt.Errorf("walls: memory cgroup %s: %w", g.dir, err)
	}
	peak := "memory.max_usage_in_bytes"
	if h.v2 {
		peak = "memory.peak"
	}
	g.peak, _ = os.Open(filepath.Join(g.dir, peak))
	return g, nil
}

// parkLocked readies f's next cgroup in the background, unless one is
// ready or on its way; h.mu is held.
func (h *hierarchy) parkLocked(f Forker, logger *slog.Logger) {
	if h.parked[f] != nil {
		return
	}
	if h.parked == nil {
		h.parked = map[Forker]*parked{}
	}
	p := &parked{}
	h.parked[f] = p
	h.parking.Add(1)
	go func() {
		defer h.parking.Done()
		dir, err := h.newDir()
		if err == nil {
			if err = f.Prefork(dir); err != nil {
				removeCgroup(dir, logger)
			}
		}
		h.mu.Lock()
		kept := err == nil && h.parked[f] == p
		switch {
		case kept:
			p.dir, p.ready = dir, true
		case h.parked[f] == p: // failed: the next environment tries again
			delete(h.parked, f)
		}
		h.mu.Unlock()
		if err != nil {
			logger.Warn("walls: no process parked ahead of the next fork", "err", err)
		} else if !kept { // released meanwhile
			f.Discard(dir)
			removeCgroup(dir, logger)
		}
	}()
}

// unparkLocked takes every ready parked cgroup away, to be discarded; h.mu
// is held. Those on their way discard themselves.
func (h *hierarchy) unparkLocked() map[Forker]string {
	ready := map[Forker]string{}
	for f, p := range h.parked {
		if p.ready {
			ready[f] = p.dir
		}
		delete(h.parked, f)
	}
	return ready
}
