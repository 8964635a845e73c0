package bench

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// BareStart starts bootstrap by hand, with the variables a runtime needs and
// a minimal Runtime API that answers nothing, and returns the time from exec
// to its first GET …/invocation/next: the floor of a cold start. It kills
// the process afterwards.
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
	timeout := time.NewTimer(10 * time.Second)
	defer timeout.Stop()
	select {
	case t := <-first:
		return t.Sub(start), nil
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-timeout.C:
		return 0, errors.New("bench: bootstrap never asked for work")
	}
}
