package bench

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// BareStart starts bootstrap by hand, with the variables a runtime needs and
// a minimal Runtime API that answers nothing, and returns the time from exec
// to its first GET …/invocation/next: the floor of a cold start. It kills
// the process afterwards.
func BareStart(ctx context.Context, bootstrap string) (time.Duration, error) {
	return BareStartCommand(ctx, []string{bootstrap}, filepath.Dir(bootstrap), "bootstrap")
}

// BareStartCommand is BareStart of the process args, in dir with handler
// (a managed runtime's interpreter running its client, which imports the
// handler from dir).
func BareStartCommand(ctx context.Context, args []string, dir, handler string) (time.Duration, error) {
	d, stop, err := bareStartFrom(ctx, args, dir, handler, time.Time{})
	stop()
	return d, err
}

// bareStartFrom is BareStartCommand timed from since (from exec when zero).
// The process lives, and its Runtime API with it, until stop is called.
func bareStartFrom(ctx context.Context, args []string, dir, handler string, since time.Time) (d time.Duration, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, func() {}, err
	}
	first := make(chan time.Time, 1)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case first <- time.Now():
		default:
		}
		<-r.Context().Done()
	})}
	go func() { _ = srv.Serve(ln) }()
	stop = func() { srv.Close() }

	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = dir
	cmd.Env = []string{"AWS_LAMBDA_RUNTIME_API=" + ln.Addr().String(), "_HANDLER=" + handler, "LAMBDA_TASK_ROOT=" + cmd.Dir,
		"AWS_LAMBDA_FUNCTION_NAME=bare", "AWS_LAMBDA_FUNCTION_VERSION=$LATEST", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128", "TZ=:UTC"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	start := since
	if start.IsZero() {
		start = time.Now()
	}
	if err := cmd.Start(); err != nil {
		return 0, stop, err
	}
	stop = func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
		srv.Close()
	}
	timeout := time.NewTimer(30 * time.Second)
	defer timeout.Stop()
	select {
	case t := <-first:
		return t.Sub(start), stop, nil
	case <-ctx.Done():
		return 0, stop, ctx.Err()
	case <-timeout.C:
		return 0, stop, errors.New("bench: bootstrap never asked for work")
	}
}

// BareBurst starts n copies of bootstrap by hand at once, each with its own
// minimal Runtime API that answers nothing, and returns each one's time
// from the burst's start to its first GET …/invocation/next: what starting
// a burst of n environments costs this machine before any platform work,
// the floor of a burst. It kills the processes once all have asked.
func BareBurst(ctx context.Context, bootstrap string, n int) Result {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	var (
		mu    sync.Mutex
		res   Result
		stops []func()
		wg    sync.WaitGroup
	)
	start := time.Now()
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d, stop, err := bareStartFrom(ctx, []string{bootstrap}, filepath.Dir(bootstrap), "bootstrap", start)
			mu.Lock()
			res.Add(d, err)
			stops = append(stops, stop)
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.Wall = time.Since(start)
	// All live until the last asked for work, as a burst's environments do.
	for _, stop := range stops {
		stop()
	}
	return res
}
