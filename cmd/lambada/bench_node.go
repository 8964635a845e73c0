package main

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/lambada-dev/lambada/bench"
	"github.com/lambada-dev/lambada/internal/testfn"
)

// benchServer is the node under test.
type benchServer struct {
	URL       string
	Pid       int    // whose CPU time to read; 0: none
	EnvParent int    // whose children the environments are; 0: unknown
	NoCPU     string // why there is none
	Desc      string
	close     func() error
}

func (s *benchServer) Close() error { return s.close() }

func (c *benchCommand) startServer(ctx context.Context, cfg *benchConfig, dir string) (*benchServer, error) {
	switch {
	case cfg.EndpointURL != "":
		s := &benchServer{URL: cfg.EndpointURL, Pid: cfg.ServerPid, EnvParent: cfg.ServerPid, Desc: "at " + cfg.EndpointURL, close: func() error { return nil }}
		if s.Pid == 0 {
			s.NoCPU = "no --server-pid"
		} else {
			s.Desc += fmt.Sprintf(" (pid %d)", s.Pid)
		}
		return s, nil
	case cfg.InProcess:
		logf, err := os.Create(filepath.Join(dir, "serve.log"))
		if err != nil {
			return nil, err
		}
		m := &Main{Listen: "127.0.0.1:0", Data: filepath.Join(dir, "data"), Region: "us-east-1", Account: "000000000000",
			Logger: slog.New(slog.NewTextHandler(logf, nil))}
		m.FirstUID, m.LastUID = spareUIDs()
		if err := m.Open(ctx); err != nil {
			logf.Close()
			return nil, err
		}
		return &benchServer{URL: "http://" + m.Addr(), NoCPU: "in-process", EnvParent: os.Getpid(), Desc: "in this process at http://" + m.Addr(),
			close: func() error { return errors.Join(m.Close(), logf.Close()) }}, nil
	}
	return c.startChild(ctx, dir)
}

// startChild runs `lambada serve` from this binary on a free port, with its
// log and data in dir and extra arguments, and waits until it answers.
func (c *benchCommand) startChild(ctx context.Context, dir string, extra ...string) (*benchServer, error) {
	self := c.Self
	if len(self) == 0 {
		exe, err := os.Executable()
		if err != nil {
			return nil, err
		}
		self = []string{exe}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	logPath := filepath.Join(dir, "serve.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close() // the child has its own descriptor
	first, last := spareUIDs()
	args := append(append(self[1:len(self):len(self)], "serve", "--listen", addr, "--data", filepath.Join(dir, "data"),
		"--env-uids", fmt.Sprintf("%d-%d", first, last)), append(c.ServeArgs, extra...)...)
	cmd := exec.Command(self[0], args...)
	cmd.Env = append(os.Environ(), c.SelfEnv...)
	cmd.Stdout, cmd.Stderr = logf, logf
	exited, err := startPinned(cmd, syscall.SIGTERM)
	if err != nil {
		return nil, err
	}
	stop := func() error {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		t := time.NewTimer(15 * time.Second)
		defer t.Stop()
		select {
		case err := <-exited:
			return err
		case <-t.C:
			_ = cmd.Process.Kill()
			<-exited
			return errors.New("lambada serve did not stop within 15 s: killed")
		}
	}
	s := &benchServer{URL: "http://" + addr, Pid: cmd.Process.Pid, EnvParent: cmd.Process.Pid, close: stop,
		Desc: fmt.Sprintf("in a child process ('lambada serve', pid %d) at http://%s", cmd.Process.Pid, addr)}
	deadline := time.Now().Add(30 * time.Second)
	probe := bench.NewClient(1)
	defer probe.CloseIdleConnections()
	for {
		resp, err := probe.Get(s.URL + "/2015-03-31/functions/")
		if err == nil {
			resp.Body.Close()
			return s, nil
		}
		select {
		case err := <-exited:
			exited <- err
			log, _ := os.ReadFile(logPath)
			return nil, fmt.Errorf("lambada serve exited (%v):\n%s", err, tail(log, 2048))
		case <-ctx.Done():
			return nil, errors.Join(ctx.Err(), stop())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return nil, errors.Join(errors.New("lambada serve did not answer within 30 s"), stop())
		}
	}
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// benchFn is a function the benchmark deploys: its package, the hex
// SHA-256 of it (the name of its code's directory on the node), and its
// bootstrap unpacked for bare starts and for running it alone.
type benchFn struct {
	zip       []byte
	key       string
	bootstrap string
}

// benchFunction returns the test function (aws-lambda-go): zipPath, or
// built from internal/testfn/fn.
func benchFunction(dir, zipPath string) (*benchFn, error) {
	if zipPath != "" {
		zipped, err := os.ReadFile(zipPath)
		return unpackFn(dir, "realistic", zipped, err)
	}
	zipped, err := testfn.Zip(dir)
	if err != nil {
		err = fmt.Errorf("%w\n(build the test function yourself and pass --function-zip)", err)
	}
	return unpackFn(dir, "realistic", zipped, err)
}

// minimalFunction returns the minimal runtime: zipPath, or built from
// internal/testfn/minimal.
func minimalFunction(dir, zipPath string) (*benchFn, error) {
	if zipPath != "" {
		zipped, err := os.ReadFile(zipPath)
		return unpackFn(dir, "minimal", zipped, err)
	}
	zipped, err := testfn.MinimalZip(dir)
	if err != nil {
		err = fmt.Errorf("%w\n(build internal/testfn/minimal yourself and pass --minimal-zip)", err)
	}
	return unpackFn(dir, "minimal", zipped, err)
}

// unpackFn writes the bootstrap of zipped under dir/name.
func unpackFn(dir, name string, zipped []byte, err error) (*benchFn, error) {
	if err != nil {
		return nil, err
	}
	zr, err := zip.NewReader(bytes.NewReader(zipped), int64(len(zipped)))
	if err != nil {
		return nil, fmt.Errorf("%s zip: %w", name, err)
	}
	f, err := zr.Open("bootstrap")
	if err != nil {
		return nil, fmt.Errorf("%s zip: %w", name, err)
	}
	defer f.Close()
	bootstrap := filepath.Join(dir, "bare-"+name, "bootstrap")
	if err := os.MkdirAll(filepath.Dir(bootstrap), 0o755); err != nil {
		return nil, err
	}
	out, err := os.OpenFile(bootstrap, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return nil, err
	}
	if _, err := io.Copy(out, f); err != nil {
		out.Close()
		return nil, err
	}
	sum := sha256.Sum256(zipped)
	return &benchFn{zip: zipped, key: hex.EncodeToString(sum[:]), bootstrap: bootstrap}, out.Close()
}

// benchAPI is a Lambda API client for the node, with retries off.
func benchAPI(endpoint string) *lambda.Client {
	return benchAPIAs(endpoint, aws.Credentials{AccessKeyID: localAccessKeyID, SecretAccessKey: localSecretAccessKey})
}

// benchAPIAs is benchAPI signing with creds.
func benchAPIAs(endpoint string, creds aws.Credentials) *lambda.Client {
	return lambda.New(lambda.Options{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String(endpoint),
		Credentials:      credentials.StaticCredentialsProvider{Value: creds},
		RetryMaxAttempts: 1,
	})
}

func createBenchFunction(ctx context.Context, api *lambda.Client, name string, zipped []byte, timeout int32) error {
	_, err := api.CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName: aws.String(name),
		Runtime:      types.RuntimeProvidedal2023,
		Handler:      aws.String("bootstrap"),
		Role:         aws.String("arn:aws:iam::000000000000:role/lambada-bench"),
		Code:         &types.FunctionCode{ZipFile: zipped},
		Timeout:      aws.Int32(timeout),
	})
	if err != nil {
		return fmt.Errorf("create %s: %w", name, err)
	}
	return waitReady(ctx, api, name)
}

// waitReady waits, as AWS's own waiters do but polling every few
// milliseconds, until the function name is Active and its last update
// Successful.
func waitReady(ctx context.Context, api *lambda.Client, name string) error {
	in := &lambda.GetFunctionInput{FunctionName: aws.String(name)}
	fast := func(o *lambda.FunctionUpdatedV2WaiterOptions) {
		o.MinDelay, o.MaxDelay = 2*time.Millisecond, 50*time.Millisecond
	}
	if err := lambda.NewFunctionUpdatedV2Waiter(api, fast).Wait(ctx, in, time.Minute); err != nil {
		return fmt.Errorf("wait for %s: %w", name, err)
	}
	return nil
}

// startPinned starts cmd so that it gets signal when this process dies,
// and returns the channel its exit goes to. Pdeathsig fires when the
// thread that forked the child ends, and Go ends a thread whose goroutine
// exits locked to it (walls does, for an in-process node in tests): the
// child is forked from a thread locked until it exits.
func startPinned(cmd *exec.Cmd, signal syscall.Signal) (chan error, error) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: signal}
	started := make(chan error, 1)
	exited := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		exited <- cmd.Wait()
	}()
	return exited, <-started
}
