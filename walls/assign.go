package walls

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// Assignment is what an environment started without code (a spare, whose
// process waits for it) gets once it is given to a function.
type Assignment struct {
	Code     string // the code on the host: at TaskRoot, read-only
	Opt      string // the layers on the host: at /opt, read-only ("": none)
	TmpMB    int    // the size of /tmp (DefaultTmpMB when zero)
	MemoryMB int    // the memory limit (none when ≤ 0: the one it started with stays)
}

var errNoThread = errors.New("walls: only an environment in a jail can be assigned")

// Assign mounts a's code and layers in the environment, which was started
// without code, sizes its /tmp and sets its memory limit. The mounts are
// made by the environment's thread, inside its namespace.
func (m *Memory) Assign(a Assignment) error {
	if m.work == nil {
		return errNoThread
	}
	tree, err := readOnlyTree(a.Code)
	if err != nil {
		return err
	}
	defer unix.Close(tree)
	opt := -1
	if a.Opt != "" {
		if opt, err = readOnlyTree(a.Opt); err != nil {
			return err
		}
		defer unix.Close(opt)
	}
	errc := make(chan error, 1)
	select {
	case m.work <- func() { errc <- finish(tree, opt, nil, a.TmpMB) }:
	case <-m.hold:
		return errNoThread
	}
	if err := <-errc; err != nil {
		return fmt.Errorf("walls: assign: %w", err)
	}
	if a.MemoryMB > 0 && m.cg != nil {
		if err := setLimit(m.cg.dir, m.cg.h.v2, int64(a.MemoryMB)<<20); err != nil {
			return fmt.Errorf("walls: assign: memory limit: %w", err)
		}
		m.mu.Lock()
		m.limit = a.MemoryMB
		m.mu.Unlock()
	}
	return nil
}
