package sandbox

import "errors"

// errTypeOutOfMemory is the error type of an invocation whose environment
// was killed for exceeding its MemorySize.
const errTypeOutOfMemory = "Runtime.OutOfMemory"

// startProcess starts the bootstrap under the environment's memory limit:
// in a memory cgroup of its own when the host offers one (and it can be
// made), else watched by an rssWatch.
func (s *Sandbox) startProcess() error {
	if s.cfg.MemorySize <= 0 {
		return s.cmd.Start()
	}
	if h := hostHierarchy(s.logger); h != nil {
		g, err := newMemcg(h, s.cfg.MemorySize)
		if err == nil {
			if err = g.start(s.cmd); err == nil {
				s.cg = g
				return nil
			}
			g.remove(s.logger)
			if !errors.Is(err, errNotEntered) {
				return err
			}
		}
		s.logger.Warn("sandbox: no memory cgroup for this environment; watching resident memory instead",
			"function", s.cfg.Function, "err", err)
	}
	if err := s.cmd.Start(); err != nil {
		return err
	}
	s.watch = newRSSWatch(s.cmd.Process.Pid, s.cfg.MemorySize, s.kill)
	return nil
}

// watchMemory tells the fallback watch, if any, whether an invocation runs.
func (s *Sandbox) watchMemory(on bool) {
	if s.watch != nil {
		s.watch.running(on)
	}
}

// outOfMemory reports, once the runtime process has exited, whether the
// environment ran out of memory: the kernel's OOM killer killed one of its
// processes (each environment has a fresh cgroup, so any kill counted there
// is this environment's, even one of a child that the runtime outlived for
// a while), or the watch killed it. The exit is then reported as
// Runtime.OutOfMemory instead of Runtime.ExitError, with the same message.
func (s *Sandbox) outOfMemory() bool {
	switch {
	case s.cg != nil:
		return s.cg.oomKilled()
	case s.watch != nil:
		return s.watch.killed.Load()
	}
	return false
}

// releaseMemory stops the watch or removes the cgroup, once the process is
// reaped and its group killed.
func (s *Sandbox) releaseMemory() {
	if s.watch != nil {
		s.watch.close()
	}
	if s.cg != nil {
		s.cg.remove(s.logger)
	}
}
