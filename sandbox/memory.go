package sandbox

// errTypeOutOfMemory is the error type of an invocation whose environment
// was killed for exceeding its MemorySize.
const errTypeOutOfMemory = "Runtime.OutOfMemory"

// startProcess starts the bootstrap inside the environment's walls (package
// walls): limited to its MemorySize.
func (s *Sandbox) startProcess() error {
	mem, err := s.pool.m.wallsHost().Start(s.cmd, s.cfg.MemorySize, s.logger.With("function", s.cfg.Function), s.kill)
	if err != nil {
		return err
	}
	s.mem = mem
	return nil
}
