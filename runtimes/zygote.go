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
	"time"

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

	parkMu sync.Mutex
	parked map[string]*parkedChild // by cgroup
}

// parkedChild is a child the zygote forked ahead of time, waiting in a
// cgroup for its walls, given over its socket.
type parkedChild struct {
	pid  int
	conn *net.UnixConn
}

// forkReply is the zygote's answer to a fork.
type forkReply struct {
	PID   int    `json:"pid"`
	Error string `json:"error"`
}

// Fork implements walls.Forker: the child parked in spec.Cgroup, if any,
// else one the zygote forks now (which moves into spec.Cgroup first),
// enters spec's walls. The walls and the environment go to the child only:
// the zygote never holds them.
func (zy *zygote) Fork(spec walls.ForkSpec) (int, error) {
	req, err := json.Marshal(map[string]any{
		"uid": spec.UID, "mountNS": spec.MountNS, "dir": spec.Dir, "env": spec.Env,
		"maxFiles": spec.MaxFiles, "maxProcesses": spec.MaxProcesses,
	})
	if err != nil {
		return 0, err
	}
	if p := zy.unpark(spec.Cgroup); p != nil {
		if err := p.enter(req, spec.Output); err == nil {
			return p.pid, nil
		}
		zy.logger.Warn("runtimes: a parked child failed; forking another", "err", err)
	}
	if err := zy.Prefork(spec.Cgroup); err != nil {
		return 0, err
	}
	p := zy.unpark(spec.Cgroup)
	if p == nil {
		return 0, fmt.Errorf("runtimes: the child parked in %s was taken", spec.Cgroup)
	}
	return p.pid, p.enter(req, spec.Output)
}

// ask sends one request and reads the answer: a pid and, with it, the
// child's socket.
func (zy *zygote) ask(req []byte) (*parkedChild, error) {
	if _, err := zy.conn.Write(req); err != nil {
		return nil, fmt.Errorf("%w: %w", errZygoteGone, err)
	}
	buf, oob := make([]byte, 4096), make([]byte, syscall.CmsgSpace(4))
	n, oobn, _, _, err := zy.conn.ReadMsgUnix(buf, oob)
	if err != nil || n == 0 {
		return nil, fmt.Errorf("%w: %v", errZygoteGone, err)
	}
	var r forkReply
	if err := json.Unmarshal(buf[:n], &r); err != nil || r.Error != "" || r.PID <= 0 {
		return nil, fmt.Errorf("runtimes: the zygote answered %q (%v)", buf[:n], err)
	}
	p := &parkedChild{pid: r.PID}
	msgs, err := syscall.ParseSocketControlMessage(oob[:oobn])
	if err == nil && len(msgs) == 1 {
		var fds []int
		if fds, err = syscall.ParseUnixRights(&msgs[0]); err == nil && len(fds) == 1 {
			f := os.NewFile(uintptr(fds[0]), "parked")
			c, ferr := net.FileConn(f)
			f.Close()
			if ferr == nil {
				p.conn = c.(*net.UnixConn)
				return p, nil
			}
			err = ferr
		}
	}
	p.discard()
	return nil, fmt.Errorf("runtimes: the parked child's socket: %v", err)
}

var errZygoteGone = errors.New("runtimes: the zygote is gone")

// Prefork implements walls.Forker: the zygote forks a child that waits in
// cgroup, and Prefork returns once it is there.
func (zy *zygote) Prefork(cgroup string) error {
	req, err := json.Marshal(map[string]string{"prefork": cgroup})
	if err != nil {
		return err
	}
	var p *parkedChild
	zy.mu.Lock()
	for attempt := 0; ; attempt++ {
		if err = zy.startLocked(); err == nil {
			p, err = zy.ask(req)
		}
		if err == nil || attempt == 1 || !errors.Is(err, errZygoteGone) {
			break
		}
		zy.logger.Warn("runtimes: the zygote is gone; starting another", "err", err)
		zy.endLocked()
	}
	zy.mu.Unlock()
	if err != nil {
		return err
	}
	// The move into the cgroup takes a while: wait for it outside the lock.
	_ = p.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 16)
	n, err := p.conn.Read(buf)
	if err != nil || string(buf[:n]) != "ready" {
		p.discard()
		return fmt.Errorf("runtimes: the zygote's parked child: %q, %v", buf[:n], err)
	}
	_ = p.conn.SetReadDeadline(time.Time{})
	zy.parkMu.Lock()
	if zy.parked == nil {
		zy.parked = map[string]*parkedChild{}
	}
	zy.parked[cgroup] = p
	zy.parkMu.Unlock()
	return nil
}

// unpark takes the child parked in cgroup, if any.
func (zy *zygote) unpark(cgroup string) *parkedChild {
	zy.parkMu.Lock()
	defer zy.parkMu.Unlock()
	p := zy.parked[cgroup]
	delete(zy.parked, cgroup)
	return p
}

// Discard implements walls.Forker.
func (zy *zygote) Discard(cgroup string) {
	if p := zy.unpark(cgroup); p != nil {
		p.discard()
	}
}

// enter gives the parked child its walls (req) and output, and waits for
// it to be in them.
func (p *parkedChild) enter(req []byte, out *os.File) error {
	defer p.conn.Close()
	if _, _, err := p.conn.WriteMsgUnix(req, syscall.UnixRights(int(out.Fd())), nil); err != nil {
		p.discard()
		return fmt.Errorf("runtimes: the parked child: %w", err)
	}
	_ = p.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 16)
	n, err := p.conn.Read(buf)
	if err != nil || string(buf[:n]) != "ok" {
		// It failed to enter its walls (and said why on its output), or
		// died.
		p.discard()
		return fmt.Errorf("runtimes: the parked child did not enter its walls: %v", err)
	}
	return nil
}

// discard kills and reaps a parked child that will not be used.
func (p *parkedChild) discard() {
	if p.conn != nil {
		p.conn.Close()
	}
	_ = syscall.Kill(p.pid, syscall.SIGKILL)
	var ws syscall.WaitStatus
	_, _ = syscall.Wait4(p.pid, &ws, 0, nil)
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
	zy.parkMu.Lock()
	parked := zy.parked
	zy.parked = nil
	zy.parkMu.Unlock()
	for _, p := range parked {
		p.discard()
	}
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
