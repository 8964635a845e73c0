package sandbox

import "github.com/lambada-dev/lambada/walls"

// errTypeOutOfMemory is the error type of an invocation whose environment
// was killed for exceeding its MemorySize.
const errTypeOutOfMemory = "Runtime.OutOfMemory"

// startProcess starts the bootstrap inside the environment's walls (package
// walls): limited to its MemorySize.
// (dirs: host directories a managed runtime's interpreter needs, shown to it
// read-only).
func (s *Sandbox) startProcess(dirs []string) error {
	spec := walls.Spec{MemoryMB: s.cfg.MemorySize, Jail: s.pool.m.Jail, Code: s.cfg.CodeDir, Opt: s.cfg.OptDir, TmpMB: s.cfg.TmpMB, Router: s.pool.m.Router, Dirs: dirs}
	if spec.Jail != nil && s.pool.m.Forkers != nil && startsFast(s.cfg) {
		spec.Fork = s.pool.m.Forkers.Forker(s.cfg.Runtime)
	}
	mem, err := s.pool.m.wallsHost().Start(s.cmd, spec, s.logger.With("function", s.cfg.Function), s.kill)
	if err != nil {
		return err
	}
	s.mem = mem
	return nil
}
