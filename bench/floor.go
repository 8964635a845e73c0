package bench

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
)

// FloorCommand is the hidden subcommand (or, in a test binary, the first
// argument) that makes a binary serve the floor: StartFloor runs it.
const FloorCommand = "bench-floor"

// ServeFloor serves the trivial floor server on a free 127.0.0.1 port,
// prints its address, and exits when stdin closes. The lambada binary runs
// it as its hidden subcommand FloorCommand, a test binary from TestMain.
func ServeFloor() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(ln.Addr().String())
	// The server stops when its parent closes stdin (or dies).
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}()
	_ = http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(b)
	}))
	os.Exit(1)
}

// Floor is a trivial echo server running in its own process: the floor of
// a warm invocation.
type Floor struct {
	URL   string
	cmd   *exec.Cmd
	stdin io.WriteCloser
}

// StartFloor re-executes this binary as the floor server; the binary must
// serve it when its first argument is FloorCommand (see ServeFloor).
func StartFloor() (*Floor, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, FloorCommand)
	// No Pdeathsig: it fires when the forking OS thread ends, which Go does
	// to a thread whose goroutine exits locked to it (an in-process node's
	// cgroup forks do), killing the floor in the middle of a run. The floor
	// exits when its stdin closes, as it does when this process dies.
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, fmt.Errorf("bench: floor server: %w", err)
	}
	return &Floor{URL: "http://" + strings.TrimSpace(line) + "/", cmd: cmd, stdin: stdin}, nil
}

// Pid is the floor server's process id, for ProcessCPU.
func (f *Floor) Pid() int { return f.cmd.Process.Pid }

// Close stops the floor server.
func (f *Floor) Close() error {
	_ = f.stdin.Close()
	return f.cmd.Wait()
}
