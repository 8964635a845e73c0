package walls

// The jail: every wall of an environment besides its memory.
//
// Each environment is forked from an OS thread of its own (the environment's
// thread) that first makes a private mount namespace and builds the
// environment's root in it: the host's /usr, /etc and library directories
// read-only, a few devices, a /proc that shows only the environment's
// processes, the code read-only at /var/task, a private /tmp of
// EphemeralStorage's size, an empty /opt, and host directories an
// interpreter needs (read-only, at their own paths). A spare thread builds
// most of it ahead of time (spare.go). The thread then pivots into that
// root and forks the bootstrap, which inherits the namespace (nothing of
// the host's file system, the data directory or other environments is
// there) and gets new pid, IPC and UTS namespaces: it runs as a host uid
// (and gid) of its own from the jail's range, without supplementary groups,
// and is pid 1 of its namespace, so that it sees and can signal only its own
// processes, and its end ends them all. (A user namespace would cost a full
// fork of the node, about 0.6 ms, instead of a vfork.)
//
// The bootstrap starts stopped (ptrace) until the thread has set its
// process and open-file limits (1024 each, as on AWS): no process of the
// environment ever runs without them. The thread lives as long as the
// environment: the bootstrap's parent-death signal fires when it ends, so a
// node that is killed takes every environment with it, and a seccomp filter
// the bootstrap inherits from the thread keeps it from clearing that signal
// (seccomp.go). The bootstrap leads a session of its own, without the
// node's terminal; its uid is never one an earlier environment had.

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// Limits of an environment's processes, as on AWS.
const (
	MaxFiles     = 1024 // open files, soft and hard
	MaxProcesses = 1024 // processes and threads of its user
)

// TaskRoot is where an environment's code is, as its processes see it.
const TaskRoot = "/var/task"

// DefaultTmpMB is /tmp's size when a Spec gives none (AWS's default
// EphemeralStorage).
const DefaultTmpMB = 512

// Jail makes environments' walls besides memory: each its own host uid
// from a range, and its own namespaces.
//
// An environment's uid is never one an earlier environment had, until the
// range is used up: what a uid leaves in the kernel (its key rings, a
// socket another process was handed) must not reach the next holder. The
// next uid is kept in a file beside root, so that a restarted node goes on
// where the last one stopped.
type Jail struct {
	root        string // an empty directory over which each environment's root is built, in its own mount namespace
	first, last uint32

	maxLive int

	mu       sync.Mutex
	next     uint32
	reserved uint32 // the file says uids below it are spent (or about to be)
	used     map[uint32]bool
}

// uidBlock is how many uids a write of the jail's file reserves.
const uidBlock = 1024

// MaxLive bounds the environments of a jail alive at once: each holds two
// OS threads of the node (its own, jail.go, and one waiting for its
// process to end), and Go ends a process that reaches 10,000 threads. The
// node's open-file limit may bound them lower (maxLive).
const MaxLive = 4000

// filesPerEnv is what an environment may hold of the node's descriptors:
// its output pipe, its process, and its Runtime API connections.
const filesPerEnv = 4 + MaxRuntimeConns

// maxLive is MaxLive, or fewer where the node's open-file limit would run
// out first, keeping 1024 descriptors for the node itself.
func maxLive() int {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil || lim.Cur > 1<<30 {
		return MaxLive
	}
	return max(1, min(MaxLive, (int(lim.Cur)-1024)/filesPerEnv))
}

// NewJail returns a jail whose environments run as host uids (and gids)
// first to last, their roots built over the empty directory root (made if
// need be; it stays empty on the host).
func NewJail(root string, first, last uint32) (*Jail, error) {
	if first == 0 || last < first || last == ^uint32(0) {
		return nil, fmt.Errorf("walls: bad uid range %d-%d", first, last)
	}
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, err
	}
	if err := closeInherited(); err != nil {
		return nil, err
	}
	j := &Jail{root: root, first: first, last: last, next: first, used: map[uint32]bool{}, maxLive: maxLive()}
	if b, err := os.ReadFile(j.uidFile()); err == nil {
		if n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 32); err == nil && uint32(n) >= first && uint32(n) <= last {
			j.next = uint32(n)
		}
	}
	j.reserved = j.next
	return j, nil
}

// uidFile holds the next uid no environment has had.
func (j *Jail) uidFile() string { return j.root + ".next-uid" }

// closeInherited marks close-on-exec every descriptor of this process
// above stderr: Go opens its own so, but one inherited from whatever
// started the node (a directory, a file, a socket) would otherwise reach
// every environment, walls or not.
func closeInherited() error {
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return err
	}
	for _, e := range fds {
		fd, err := strconv.Atoi(e.Name())
		if err != nil || fd <= 2 {
			continue
		}
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, unix.FD_CLOEXEC); err != nil && !errors.Is(err, unix.EBADF) {
			return fmt.Errorf("walls: descriptor %d: %w", fd, err)
		}
	}
	return nil
}

// String says what the jail is.
func (j *Jail) String() string {
	return fmt.Sprintf("own user (uids %d-%d), own pid, mount, IPC and UTS namespaces; code read-only at %s; private /tmp", j.first, j.last, TaskRoot)
}

// take reserves a host uid for an environment: the next one no earlier
// environment had, or once the range is used up, the next one free.
func (j *Jail) take() (uint32, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if len(j.used) >= j.maxLive {
		return 0, fmt.Errorf("walls: %d environments are alive already, the most this node holds", j.maxLive)
	}
	n := j.last - j.first + 1
	for range n {
		id := j.next
		if j.next++; j.next > j.last {
			j.next = j.first
		}
		if j.used[id] {
			continue
		}
		if id == j.reserved || j.next == j.first {
			if err := j.reserve(id); err != nil {
				return 0, err
			}
		}
		j.used[id] = true
		return id, nil
	}
	return 0, fmt.Errorf("walls: all %d environment uids are in use", n)
}

// reserve writes, durably, that the uids from id on to a block past it are
// spent; j.mu is held.
func (j *Jail) reserve(id uint32) error {
	end := uint64(id) + uidBlock
	if end > uint64(j.last) {
		end = uint64(j.first) // the range is used up: round again
	}
	tmp := j.uidFile() + ".tmp"
	f, err := os.Create(tmp)
	if err == nil {
		_, err = f.WriteString(strconv.FormatUint(end, 10) + "\n")
		err = errors.Join(err, f.Sync(), f.Close())
	}
	if err == nil {
		err = os.Rename(tmp, j.uidFile())
	}
	if err != nil {
		return fmt.Errorf("walls: keeping the next uid: %w", err)
	}
	j.reserved = uint32(end)
	return nil
}

// give returns an environment's uid once nothing of it runs any more.
func (j *Jail) give(id uint32) {
	j.mu.Lock()
	delete(j.used, id)
	j.mu.Unlock()
}

// prepare makes cmd start as the environment of host uid id.
func (j *Jail) prepare(cmd *exec.Cmd, id uint32) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	a := cmd.SysProcAttr
	a.Cloneflags |= syscall.CLONE_NEWPID | syscall.CLONE_NEWIPC | syscall.CLONE_NEWUTS
	a.Credential = &syscall.Credential{Uid: id, Gid: id} // and no supplementary groups
	a.Pdeathsig = syscall.SIGKILL
	a.Ptrace = true
	// A session of its own: no controlling terminal of the node's, whose
	// /dev/tty it could read, or push keystrokes into (TIOCSTI). It leads
	// its process group too, which the node kills.
	a.Setpgid, a.Setsid = false, true
}

// run starts cmd, prepared for host uid id, on the calling goroutine's
// locked thread, once the thread is inside the environment's mount
// namespace (prebuilt: the thread is a spare that ran prebuild already)
// with its code (tree, from readOnlyTree) and the host directories it is
// shown, and lets the bootstrap run once its limits are set. With a forker,
// the process is forked instead, in cgroup (fork.go).
func (j *Jail) run(cmd *exec.Cmd, id uint32, tree, opt int, shown []shownDir, tmpMB int, prebuilt bool, f Forker, cgroup string) error {
	if !prebuilt {
		if err := j.prebuild(); err != nil {
			return err
		}
	}
	if err := finish(tree, opt, shown, tmpMB); err != nil {
		return err
	}
	if f != nil {
		return forkIn(f, cmd, id, cgroup)
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	pid := cmd.Process.Pid
	abort := func(err error) error { // the bootstrap never ran: killed and reaped
		_ = unix.Kill(pid, unix.SIGKILL)
		_ = cmd.Wait()
		return err
	}
	var ws unix.WaitStatus
	if _, err := unix.Wait4(pid, &ws, unix.WALL, nil); err != nil || !ws.Stopped() {
		return abort(fmt.Errorf("walls: the bootstrap did not stop after exec (%v, status %v)", err, ws))
	}
	if err := limit(pid, id); err != nil {
		return abort(fmt.Errorf("walls: limits: %w", err))
	}
	if err := unix.PtraceDetach(pid); err != nil {
		return abort(fmt.Errorf("walls: ptrace detach: %w", err))
	}
	return nil
}

// limit sets the process and open-file limits of process pid, stopped, of
// host uid (and gid) id. Setting another user's limits takes
// CAP_SYS_RESOURCE, which root may lack; being that user does not: the
// calling thread (and only it: credentials are per thread in Linux) takes id
// as its real uid and gid meanwhile, keeping root as its effective and saved
// ones to come back.
func limit(pid int, id uint32) error {
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESGID, uintptr(id), ^uintptr(0), ^uintptr(0)); e != 0 {
		return fmt.Errorf("setresgid: %w", e)
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, uintptr(id), ^uintptr(0), ^uintptr(0)); e != 0 {
		return fmt.Errorf("setresuid: %w", e)
	}
	err := errors.Join(
		unix.Prlimit(pid, unix.RLIMIT_NOFILE, &unix.Rlimit{Cur: MaxFiles, Max: MaxFiles}, nil),
		unix.Prlimit(pid, unix.RLIMIT_NPROC, &unix.Rlimit{Cur: MaxProcesses, Max: MaxProcesses}, nil))
	_, _, e1 := unix.RawSyscall(unix.SYS_SETRESUID, 0, ^uintptr(0), ^uintptr(0))
	_, _, e2 := unix.RawSyscall(unix.SYS_SETRESGID, 0, ^uintptr(0), ^uintptr(0))
	if e1 != 0 || e2 != 0 {
		// The thread ends with the environment anyway; it must not do
		// anything as root it cannot.
		err = errors.Join(err, fmt.Errorf("back to root: %v %v", e1, e2))
	}
	return err
}

// hostDirs are the host's directories an environment sees, read-only (or
// as the same symbolic links).
var hostDirs = []string{"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc"}

// devices are the device files an environment sees.
var devices = []string{"null", "zero", "full", "random", "urandom"}

// prebuild moves the calling thread (locked, not the main one) into a new
// mount namespace and builds there, and pivots the thread into, what every
// environment's root has: the host's system directories read-only, /dev,
// /proc, an empty /opt, a /tmp of DefaultTmpMB and a mount point for
// /var/task, the root itself read-only; and it filters its own system
// calls as the bootstrap it forks will (seccomp.go). A spare does it ahead
// of time. The thread can never leave the namespace: its goroutine must end
// without unlocking it.
func (j *Jail) prebuild() error {
	if err := unix.Unshare(unix.CLONE_FS | unix.CLONE_NEWNS); err != nil {
		return fmt.Errorf("walls: new mount namespace: %w", err)
	}
	r := j.root
	return steps(
		step{"private mounts", func() error { return unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, "") }},
		step{"root", func() error {
			return unix.Mount("tmpfs", r, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "size=1m,nr_inodes=1024,mode=755")
		}},
		step{"host directories", func() error { return hostView(r) }},
		step{"/dev", func() error { return devView(r) }},
		step{"/proc", func() error {
			return mkdirMount(r+"/proc", "proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "hidepid=invisible")
		}},
		step{"/tmp", func() error {
			return mkdirMount(r+"/tmp", "tmpfs", "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, tmpOptions(DefaultTmpMB)+",mode=1777")
		}},
		step{"/opt and " + TaskRoot, func() error {
			return errors.Join(os.Mkdir(r+"/opt", 0o755), os.MkdirAll(r+TaskRoot, 0o755))
		}},
		step{"pivot", func() error { return pivot(r) }},
		step{"read-only root", readOnlyRoot},
		// Inherited by every process the thread forks: the bootstrap.
		step{"seccomp filter", keepDeathSignal},
	)
}

// tmpOptions are the tmpfs options of a /tmp of mb megabytes.
func tmpOptions(mb int) string { return "size=" + strconv.Itoa(mb) + "m" }

// readOnlyTree returns a detached copy of the mount tree at dir
// (open_tree), read-only, without set-user-ID programs or devices, to be
// attached in an environment's root from inside its namespace (the code at
// /var/task, an interpreter's directory). The caller closes it.
func readOnlyTree(dir string) (int, error) {
	fd, err := unix.OpenTree(unix.AT_FDCWD, dir, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_RECURSIVE)
	if err != nil {
		return -1, fmt.Errorf("walls: %s: open_tree: %w", dir, err)
	}
	attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV}
	if err := unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, &attr); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("walls: %s: mount_setattr: %w", dir, err)
	}
	return fd, nil
}

// shownDir is a host directory shown in an environment at its own path.
type shownDir struct {
	path string
	tree int // from readOnlyTree
}

// finish completes the root that prebuild made the calling thread's, for
// one environment: its code (tree, from readOnlyTree) at /var/task, the
// host directories it is shown (the root, read-only since prebuild, is
// writable while their mount points are made), its /tmp of tmpMB megabytes.
func finish(tree, opt int, shown []shownDir, tmpMB int) error {
	return steps(
		step{TaskRoot, func() error {
			if tree < 0 {
				return nil
			}
			return unix.MoveMount(tree, "", unix.AT_FDCWD, TaskRoot, unix.MOVE_MOUNT_F_EMPTY_PATH)
		}},
		step{"/opt", func() error {
			if opt < 0 {
				return nil
			}
			return unix.MoveMount(opt, "", unix.AT_FDCWD, "/opt", unix.MOVE_MOUNT_F_EMPTY_PATH)
		}},
		step{"shown directories", func() error {
			if len(shown) == 0 {
				return nil
			}
			// Their mount points are made in the root, writable meanwhile.
			if err := unix.Mount("", "/", "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_NOSUID|unix.MS_NODEV, ""); err != nil {
				return err
			}
			for _, d := range shown {
				if err := os.MkdirAll(d.path, 0o755); err != nil {
					return err
				}
				if err := unix.MoveMount(d.tree, "", unix.AT_FDCWD, d.path, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
					return fmt.Errorf("%s: %w", d.path, err)
				}
			}
			return readOnlyRoot()
		}},
		step{"/tmp", func() error {
			if tmpMB <= 0 || tmpMB == DefaultTmpMB {
				return nil
			}
			return unix.Mount("", "/tmp", "", unix.MS_REMOUNT|unix.MS_NOSUID|unix.MS_NODEV, tmpOptions(tmpMB))
		}},
	)
}

// readOnlyRoot makes the root of the calling thread's namespace read-only.
func readOnlyRoot() error {
	return unix.Mount("", "/", "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV, "")
}

// step is one step of building an environment's root.
type step struct {
	what string
	do   func() error
}

// steps runs steps in order, and stops at the first that fails, named.
func steps(s ...step) error {
	for _, st := range s {
		if err := st.do(); err != nil {
			return fmt.Errorf("walls: environment root: %s: %w", st.what, err)
		}
	}
	return nil
}

// hostView puts the host's system directories in root r, read-only.
func hostView(r string) error {
	for _, d := range hostDirs {
		fi, err := os.Lstat(d)
		switch {
		case errors.Is(err, os.ErrNotExist):
			continue
		case err != nil:
			return err
		case fi.Mode()&os.ModeSymlink != 0:
			target, err := os.Readlink(d)
			if err == nil {
				err = os.Symlink(target, r+d)
			}
			if err != nil {
				return err
			}
		case fi.IsDir():
			if err := os.Mkdir(r+d, 0o755); err != nil {
				return err
			}
			if err := bindReadOnly(d, r+d); err != nil {
				return fmt.Errorf("%s: %w", d, err)
			}
		}
	}
	return nil
}

// devView makes root r's /dev: a few device files, and the links to the
// process's own descriptors.
func devView(r string) error {
	dev := r + "/dev"
	if err := os.Mkdir(dev, 0o755); err != nil {
		return err
	}
	for _, d := range devices {
		// Opened read-only: a descriptor open for writing, even one a
		// concurrent fork holds until its exec, would make the root's
		// remount read-only fail (EBUSY).
		f, err := os.OpenFile(filepath.Join(dev, d), os.O_CREATE|os.O_RDONLY, 0o666)
		if err != nil {
			return err
		}
		f.Close()
		if err := unix.Mount("/dev/"+d, filepath.Join(dev, d), "", unix.MS_BIND, ""); err != nil {
			if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENXIO) {
				continue // the host has no such device
			}
			return fmt.Errorf("%s: %w", d, err)
		}
	}
	for name, target := range map[string]string{"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0",
		"stdout": "/proc/self/fd/1", "stderr": "/proc/self/fd/2"} {
		if err := os.Symlink(target, filepath.Join(dev, name)); err != nil {
			return err
		}
	}
	return nil
}

// mkdirMount makes directory dir and mounts a file system there.
func mkdirMount(dir, source, fstype string, flags uintptr, data string) error {
	if err := os.Mkdir(dir, 0o755); err != nil {
		return err
	}
	return unix.Mount(source, dir, fstype, flags, data)
}

// bindReadOnly mounts directory src at dst, read-only, without set-user-ID
// programs or devices: a mount flag, which no permission bit can undo.
func bindReadOnly(src, dst string) error {
	if err := unix.Mount(src, dst, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return err
	}
	return unix.Mount("", dst, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV, "")
}

// pivot makes r the namespace's root and drops the host's file system
// from it.
func pivot(r string) error {
	old := r + "/.host"
	if err := os.Mkdir(old, 0o700); err != nil {
		return fmt.Errorf("mkdir: %w", err)
	}
	if err := unix.PivotRoot(r, old); err != nil {
		return fmt.Errorf("pivot_root: %w", err)
	}
	if err := unix.Chdir("/"); err != nil {
		return err
	}
	if err := unix.Unmount("/.host", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("umount: %w", err)
	}
	if err := os.Remove("/.host"); err != nil {
		return fmt.Errorf("rmdir: %w", err)
	}
	return nil
}

// goOffMain runs f in a new goroutine locked to an OS thread other than the
// main one (whose namespaces and, in cgroup v1, memory accounting are the
// process's), once that goroutine holds its thread. Unless f unlocks it, the
// thread ends when f returns, and with it whatever namespace or cgroup it
// entered.
func goOffMain(f func()) {
	locked := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		if syscall.Gettid() == syscall.Getpid() {
			// While this goroutine holds the main thread, the next one
			// runs on another.
			goOffMain(f)
			runtime.UnlockOSThread()
			close(locked)
			return
		}
		close(locked)
		f()
	}()
	<-locked
}

// hold keeps an environment's thread until done is closed, running meanwhile
// what is sent on work (on the thread: inside the environment's
// namespaces). A zero hold keeps none.
type hold struct {
	done <-chan struct{}
	work <-chan func()
}

// wait runs work until done is closed.
func (h hold) wait() {
	for {
		select {
		case <-h.done:
			return
		case f := <-h.work:
			f()
		}
	}
}

// launch runs start (cmd.Start, or a jail's run) and returns its error: on a
// thread of its own when hold is not nil, the thread then waiting for hold
// to close, and ending.
func launch(start func(prebuilt bool) error, h hold) error {
	if h.done == nil {
		return start(false)
	}
	errc := make(chan error, 1)
	goOffMain(func() {
		errc <- start(false)
		h.wait()
	})
	return <-errc
}

// Probe starts a process in the jail's walls (the host's true, with an
// empty code directory) and returns what the kernel refused, if anything:
// the wall that could not be made, and why.
func (j *Jail) Probe(h *Host, logger *slog.Logger) error {
	code := j.root + ".probe" // left by a node killed while it probed, the next one reuses it
	if err := os.MkdirAll(code, 0o755); err != nil {
		return err
	}
	defer os.RemoveAll(code)
	cmd := &exec.Cmd{Path: "/usr/bin/true", Args: []string{"true"}}
	m, err := h.Start(cmd, Spec{Jail: j, Code: code}, logger, func() {})
	if err != nil {
		return err
	}
	defer m.Close(logger)
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("walls: a process in the jail: %w", err)
	}
	return nil
}
