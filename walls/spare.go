package walls

import (
	"log/slog"
	"runtime"
	"strconv"
	"syscall"
)

// spare is a locked OS thread waiting in a fresh v1 memory cgroup, so that
// the next environment is forked right there, with no cgroup migration on
// its cold start. A migration takes the kernel's cgroup threadgroup lock for
// writing, and the first one after a quiet while waits for an RCU grace
// period: measured here, a cold start 3.5 ms when they come back to back
// and 12 ms (p50; 20 ms p90) when 200 ms apart, against 4 ms without a
// cgroup. The spare pays that wait in the background.
//
// A spare exists while this process has environments in the hierarchy: the
// first one starts it, each use starts the next, and the last environment's
// release stops it. Its goroutine never unlocks its thread, so the thread
// ends with the goroutine and leaves the cgroup with it: the spare's
// cgroup is then either an environment's (removed with it) or an orphan
// that release removes.
type spare struct {
	dir  string
	jail *Jail        // whose environment's root its thread has prebuilt; nil: none
	fork chan forkReq // a request to fork one process in dir
	stop chan struct{}
}

type forkReq struct {
	start func(prebuilt bool) error // cmd.Start, or a jail's run
	errc  chan error
	hold  hold // in a jail: until the environment ends
}

// fillLocked starts making a spare, for environments of jail j (nil:
// none), unless one is ready or on its way; h.mu is held.
func (h *hierarchy) fillLocked(j *Jail) {
	if h.v2 || h.spare != nil || h.filling != nil || h.spareFailed || h.envs == 0 {
		return
	}
	h.filling = make(chan struct{})
	go h.makeSpare(h.filling, nil, j)
}

// makeSpare makes a spare and waits, as it, for a fork or a stop. For a
// jail, its thread also prebuilds an environment's root (jail.go), the
// larger part of the jail's cost. It signals on locked (if not nil) once it
// holds a thread other than the main one, and closes filling when the spare
// is ready or has failed.
func (h *hierarchy) makeSpare(filling chan struct{}, locked chan<- struct{}, j *Jail) {
	runtime.LockOSThread()
	if syscall.Gettid() == syscall.Getpid() {
		// The main thread owns the process's memory accounting in v1 (see
		// forkInside): hand over to a goroutine on another thread.
		inner := make(chan struct{})
		go h.makeSpare(filling, inner, j)
		<-inner
		runtime.UnlockOSThread()
		return
	}
	if locked != nil {
		close(locked)
	}
	sp := &spare{fork: make(chan forkReq), stop: make(chan struct{}), jail: j}
	dir, err := h.newDir()
	if err == nil {
		if err = writeCgroup(dir, "tasks", strconv.Itoa(syscall.Gettid())); err != nil {
			_ = syscall.Rmdir(dir) // the thread is not in it
		}
	}
	var buildErr error
	if err == nil && j != nil {
		buildErr = j.prebuild()
	}
	h.mu.Lock()
	h.filling = nil
	keep := err == nil && buildErr == nil && h.envs > 0
	switch {
	case err != nil:
		h.spareFailed = true
	case buildErr != nil: // the thread ends, leaving dir; the next environment tries again
		h.orphans = append(h.orphans, dir)
	case keep:
		sp.dir, h.spare = dir, sp
	default: // the last environment is gone meanwhile
		h.orphans = append(h.orphans, dir)
	}
	h.mu.Unlock()
	close(filling)
	if err != nil {
		runtime.UnlockOSThread() // it never moved
		return
	}
	if keep {
		select {
		case req := <-sp.fork:
			req.errc <- req.start(sp.jail != nil)
			if req.hold.done != nil {
				req.hold.wait()
			}
		case <-sp.stop:
		}
	}
}

// release forgets an environment's cgroup, removed. With the last one go
// the spare and, unless another process still uses it, the parent.
func (h *hierarchy) release(logger *slog.Logger) {
	h.mu.Lock()
	h.envs--
	if h.envs > 0 {
		h.mu.Unlock()
		return
	}
	sp, filling := h.spare, h.filling
	h.spare = nil
	parked := h.unparkLocked()
	h.mu.Unlock()
	if sp != nil {
		close(sp.stop)
	}
	if filling != nil {
		<-filling
	}
	for f, dir := range parked {
		f.Discard(dir)
		removeCgroup(dir, logger)
	}
	h.parking.Wait()
	h.mu.Lock()
	orphans := h.orphans
	h.orphans = nil
	if sp != nil {
		orphans = append(orphans, sp.dir)
	}
	h.mu.Unlock()
	for _, dir := range orphans {
		removeCgroup(dir, logger)
	}
	h.mu.Lock()
	if h.envs == 0 && h.spare == nil && h.filling == nil {
		_ = syscall.Rmdir(h.parent) // fails while another process uses it
	}
	h.mu.Unlock()
}
