// Package bench measures Lambada against floors taken in the same run: a
// keep-alive loopback HTTP round trip to a trivial server in its own process
// (the floor for a warm invocation), and a bare start of a bootstrap timed to
// its first GET next (the floor for a cold start). The Go benchmarks use it,
// and so will `lambada bench`. It sends traffic to 127.0.0.1 only.
package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// floorEnv tells a re-executed binary to serve the floor instead of its
// usual work.
const floorEnv = "LAMBADA_BENCH_FLOOR_SERVER"

// MaybeServeFloor serves the trivial floor server and exits if this process
// was started by StartFloor; otherwise it returns at once. Call it first
// thing in main or TestMain.
func MaybeServeFloor() {
	if os.Getenv(floorEnv) != "1" {
		return
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(ln.Addr().String())
	// The server stops when its parent closes stdin.
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

// Floor is a trivial echo server running in its own process.
type Floor struct {
	URL   string
	cmd   *exec.Cmd
	stdin io.WriteCloser
}

// StartFloor re-executes this binary as the floor server.
func StartFloor() (*Floor, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), floorEnv+"=1")
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

// Close stops the floor server.
func (f *Floor) Close() error {
	_ = f.stdin.Close()
	return f.cmd.Wait()
}

// Post sends body to url and reads the whole answer, failing on a status
// other than 200. Benchmarks use it for the floor and for Lambada alike, so
// both pay the same client costs.
func Post(c *http.Client, url string, body []byte) error {
	resp, err := c.Post(url, "application/json", strings.NewReader(string(body)))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Amz-Function-Error") != "" {
		return fmt.Errorf("bench: status %d, function error %q", resp.StatusCode, resp.Header.Get("X-Amz-Function-Error"))
	}
	return nil
}

// BareStart starts bootstrap by hand, with the variables a runtime needs and
// a minimal Runtime API that answers nothing, and returns the time from exec
// to its first GET …/invocation/next. It kills the process afterwards.
func BareStart(ctx context.Context, bootstrap string) (time.Duration, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	first := make(chan time.Time, 1)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case first <- time.Now():
		default:
		}
		<-r.Context().Done()
	})}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	cmd := exec.Command(bootstrap)
	cmd.Dir = filepath.Dir(bootstrap)
	cmd.Env = []string{"AWS_LAMBDA_RUNTIME_API=" + ln.Addr().String(), "_HANDLER=bootstrap", "LAMBDA_TASK_ROOT=" + cmd.Dir,
		"AWS_LAMBDA_FUNCTION_NAME=bare", "AWS_LAMBDA_FUNCTION_VERSION=$LATEST", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128", "TZ=:UTC"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	defer func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	}()
	select {
	case t := <-first:
		return t.Sub(start), nil
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-time.After(10 * time.Second):
		return 0, errors.New("bench: bootstrap never asked for work")
	}
}
