package walls

// Forked environments: instead of exec, an environment's process may be
// forked by a parent that already loaded its runtime (a zygote, package
// runtimes), which saves the interpreter's start. The environment's thread
// still builds its root (jail.go); the zygote's child enters the same walls
// itself, as root, before it runs anything of the function's: its memory
// cgroup, its limits, the thread's mount namespace, a session, the
// environment's uid and gid without supplementary groups, the parent-death
// signal; it is pid 1 of new pid, IPC and UTS namespaces, and the node's
// child (CLONE_PARENT), so that the node waits for it as for any other.

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// Forker starts environments' processes by forking: a zygote.
type Forker interface {
	// Fork starts a process in the walls of spec and returns its host pid;
	// the process is a child of the calling process. It is the one parked
	// in spec.Cgroup, if any, else it moves there.
	Fork(spec ForkSpec) (pid int, err error)
	// Prefork parks a process in cgroup, to be the next Fork's there.
	Prefork(cgroup string) error
	// Discard kills the process parked in cgroup, unused, and reaps it.
	Discard(cgroup string)
}

// ForkSpec is what a forked environment's process enters.
type ForkSpec struct {
	UID          uint32   // its host uid and gid
	MountNS      string   // the path of the mount namespace its root is in
	Cgroup       string   // the directory of its memory cgroup ("": none)
	Dir          string   // its working directory, inside the namespace
	Env          []string // its whole environment
	Output       *os.File // its standard output and error
	MaxFiles     int      // its open-file limit
	MaxProcesses int      // its process limit
}

// forkIn starts cmd's environment by forking it with f, from the calling
// thread, which is in the environment's mount namespace, for host uid id,
// in cgroup (a directory; "": none). cmd gets the process, to wait for.
func forkIn(f Forker, cmd *exec.Cmd, id uint32, cgroup string) error {
	out, ok := cmd.Stdout.(*os.File)
	if !ok || cmd.Stderr != cmd.Stdout {
		return fmt.Errorf("walls: a forked environment writes its output to one file")
	}
	pid, err := f.Fork(ForkSpec{
		UID:          id,
		MountNS:      "/proc/" + strconv.Itoa(os.Getpid()) + "/task/" + strconv.Itoa(unix.Gettid()) + "/ns/mnt",
		Cgroup:       cgroup,
		Dir:          cmd.Dir,
		Env:          cmd.Env,
		Output:       out,
		MaxFiles:     MaxFiles,
		MaxProcesses: MaxProcesses,
	})
	if err != nil {
		return err
	}
	if cmd.Process, err = os.FindProcess(pid); err != nil {
		_ = unix.Kill(pid, unix.SIGKILL)
		return fmt.Errorf("walls: the forked process %d: %w", pid, err)
	}
	return nil
}

// StartParent starts cmd, a parent of environments (a zygote), from an OS
// thread of its own that lives until done is closed: its children, which
// share its parent (CLONE_PARENT), get the parent-death signal of that
// thread. It is filtered (seccomp.go) as every environment is, and dies with
// the node.
func StartParent(cmd *exec.Cmd, done <-chan struct{}) error {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	return launch(func(bool) error {
		if err := keepDeathSignal(); err != nil {
			return err
		}
		return cmd.Start()
	}, hold{done: done})
}
