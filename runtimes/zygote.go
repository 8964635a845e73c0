package runtimes

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"

	"github.com/lambada-dev/lambada/walls"
)

// Zygotes are the node's zygotes: per Python interpreter, a process that
// has loaded Lambada's client and forks each new environment of its
// runtime (walls.Forker), started on first use. A zygote that dies is
// started again by the next fork. Close stops them all.
type Zygotes struct {
	logger *slog.Logger

	mu     sync.Mutex
	byPath map[string]*zygote // by interpreter
	closed bool
}

// NewZygotes returns the node's zygotes, none started yet.
func NewZygotes(logger *slog.Logger) *Zygotes {
	return &Zygotes{logger: logger, byPath: map[string]*zygote{}}
}

// Forker returns what forks environments of runtime, or nil where
// environments of runtime start by exec (a runtime other than Python's).
func (z *Zygotes) Forker(runtime string) walls.Forker {
	if z == nil || !strings.HasPrefix(runtime, "python3.") {
		return nil
	}
	in, ok := interpreters()[runtime]
	if !ok {
		return nil
	}
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.closed {
		return nil
	}
	zy := z.byPath[in.path]
	if zy == nil {
		zy = &zygote{path: in.path, logger: z.logger.With("zygote", in.path)}
		z.byPath[in.path] = zy
	}
	return zy
}

// Close stops every zygote; environments they forked go on.
func (z *Zygotes) Close() {
	z.mu.Lock()
	z.closed = true
	all := z.byPath
	z.byPath = nil
	z.mu.Unlock()
	for _, zy := range all {
		zy.stop()
	}
}

// zygote is one interpreter's zygote process and the node's end of its
// socket. Forks are one at a time.
type zygote struct {
	path   string
	logger *slog.Logger

	mu   sync.Mutex
	cmd  *exec.Cmd
	conn *net.UnixConn
	done chan struct{} // closed once the process is reaped
	// holds end the threads zygotes were started from. Each is the parent
	// of the environments its zygote forked, which die with it: a thread
	// ends only when the node stops them all.
	holds []chan struct{}
}

// forkReply is the zygote's answer to a fork.
type forkReply struct {
	PID   int    `json:"pid"`
	Error string `json:"error"`
}

// Fork implements walls.Forker: it asks the zygote, started if need be, to
// fork a process into spec's walls.
func (zy *zygote) Fork(spec walls.ForkSpec) (int, error) {
	req, err := json.Marshal(map[string]any{
		"uid": spec.UID, "mountNS": spec.MountNS, "cgroup": spec.Cgroup, "dir": spec.Dir, "env": spec.Env,
		"maxFiles": spec.MaxFiles, "maxProcesses": spec.MaxProcesses,
	})
	if err != nil {
		return 0, err
	}
	zy.mu.Lock()
	defer zy.mu.Unlock()
	for attempt := 0; ; attempt++ {
		if err := zy.startLocked(); err != nil {
			return 0, err
		}
		pid, err := zy.ask(req, spec.Output)
		if err == nil || attempt == 1 || !errors.Is(err, errZygoteGone) {
			return pid, err
		}
		zy.logger.Warn("runtimes: the zygote is gone; starting another", "err", err)
		zy.endLocked()
	}
}

var errZygoteGone = errors.New("runtimes: the zygote is gone")

// ask sends one fork request with the output descriptor and reads the
// answer.
func (zy *zygote) ask(req []byte, out *os.File) (int, error) {
	oob := syscall.UnixRights(int(out.Fd()))
	if _, _, err := zy.conn.WriteMsgUnix(req, oob, nil); err != nil {
		return 0, fmt.Errorf("%w: %w", errZygoteGone, err)
	}
	buf := make([]byte, 4096)
	n, err := zy.conn.Read(buf)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("%w: %v", errZygoteGone, err)
	}
	var r forkReply
	if err := json.Unmarshal(buf[:n], &r); err != nil {
		return 0, fmt.Errorf("runtimes: the zygote answered %q: %w", buf[:n], err)
	}
	if r.Error != "" || r.PID <= 0 {
		return 0, fmt.Errorf("runtimes: the zygote: %s", r.Error)
	}
	return r.PID, nil
}

// startLocked starts the zygote unless it runs.
func (zy *zygote) startLocked() error {
	if zy.cmd != nil {
		select {
		case <-zy.done:
			zy.endLocked()
		default:
			return nil
		}
	}
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_SEQPACKET|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("runtimes: zygote socket: %w", err)
	}
	mine, theirs := os.NewFile(uintptr(fds[0]), "zygote"), os.NewFile(uintptr(fds[1]), "zygote-child")
	defer theirs.Close()
	c, err := net.FileConn(mine)
	mine.Close()
	if err != nil {
		return fmt.Errorf("runtimes: zygote socket: %w", err)
	}
	cmd := &exec.Cmd{
		Path: zy.path,
		Args: []string{zy.path, "-u", "-c", python},
		// Nothing of the node's: the children replace it with theirs.
		Env:        []string{"LAMBADA_ZYGOTE=1"},
		Dir:        "/",
		Stderr:     os.Stderr,
		ExtraFiles: []*os.File{theirs}, // fd 3
	}
	hold := make(chan struct{})
	zy.holds = append(zy.holds, hold)
	if err := walls.StartParent(cmd, hold); err != nil {
		c.Close()
		return fmt.Errorf("runtimes: start the zygote: %w", err)
	}
	done := make(chan struct{})
	go func() {
		err := cmd.Wait()
		zy.logger.Debug("runtimes: zygote exited", "err", err)
		close(done)
	}()
	zy.cmd, zy.conn, zy.done = cmd, c.(*net.UnixConn), done
	return nil
}

// stop ends the zygote, if it runs, and the threads of every zygote it
// was: what they forked is killed.
func (zy *zygote) stop() {
	zy.mu.Lock()
	defer zy.mu.Unlock()
	zy.endLocked()
	for _, h := range zy.holds {
		close(h)
	}
	zy.holds = nil
}

// endLocked kills the zygote process, if any, and waits until it is
// reaped. The environments it forked go on.
func (zy *zygote) endLocked() {
	if zy.cmd == nil {
		return
	}
	zy.conn.Close()
	_ = zy.cmd.Process.Kill()
	<-zy.done
	zy.cmd, zy.conn, zy.done = nil, nil, nil
}

// Running returns the pids of the zygotes running now.
func (z *Zygotes) Running() []int {
	z.mu.Lock()
	all := make([]*zygote, 0, len(z.byPath))
	for _, zy := range z.byPath {
		all = append(all, zy)
	}
	z.mu.Unlock()
	var pids []int
	for _, zy := range all {
		zy.mu.Lock()
		if zy.cmd != nil {
			select {
			case <-zy.done:
			default:
				pids = append(pids, zy.cmd.Process.Pid)
			}
		}
		zy.mu.Unlock()
	}
	return pids
}
