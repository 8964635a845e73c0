package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/lambada-dev/lambada/internal/poll"
)

// syncBuffer is a strings.Builder safe for the serve command's writer.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startServe runs `lambada serve` in this process with args and a free
// --listen, until stop (which returns what it returned) or the test's end;
// it returns the node's client once it listens, and its log.
func startServe(t *testing.T, args ...string) (c *lambda.Client, log *syncBuffer, stop func() error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	log = &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- (&serveCommand{Stderr: log}).Run(ctx, append([]string{"--listen", addr}, args...)) }()
	var once sync.Once
	var served error
	stop = func() error {
		once.Do(func() {
			cancel()
			served = <-done
		})
		return served
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("lambada serve: %v; log:\n%s", err, log.String())
		}
	})
	poll.Until(t, 30*time.Second, "lambada serve listens", func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	c = lambda.New(lambda.Options{Region: "us-east-1", BaseEndpoint: aws.String("http://" + addr),
		Credentials: credentials.NewStaticCredentialsProvider("x", "x", ""), RetryMaxAttempts: 1})
	return c, log, stop
}

// `lambada serve` copies function lines to its log only with
// --log-functions.
func TestServeCommand_LogFunctions(t *testing.T) {
	t.Parallel()
	for _, on := range []bool{false, true} {
		args := []string{"--data", t.TempDir()}
		if on {
			args = append(args, "--log-functions", "--fsync")
		}
		c, log, stop := startServe(t, args...)
		MustCreateFunction(t, c, "logged", 3, nil)
		if _, err := c.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String("logged"), Payload: []byte(`{"action":"print","msg":"hello-log"}`)}); err != nil {
			t.Fatal(err)
		}
		if err := stop(); err != nil {
			t.Fatalf("serve: %v", err)
		}
		got := log.String()
		copied := strings.Contains(got, `msg=hello-log component=function function=logged version=$LATEST`) &&
			strings.Contains(got, `msg="START RequestId: `)
		if copied != on {
			t.Errorf("--log-functions=%v: function lines copied %v; log:\n%s", on, copied, got)
		}
		if !strings.Contains(got, `msg="functions are walled in"`) {
			t.Errorf("the start does not say what walls functions are in; log:\n%s", got)
		}
		if fsync := fmt.Sprintf("fsync=%v", on); !strings.Contains(got, fsync) {
			t.Errorf("--fsync=%v: the start line does not say %s; log:\n%s", on, fsync, got)
		}
	}
}

// `lambada serve` refuses cluster flags that cannot work together, before
// it opens anything.
func TestServeCommand_ClusterFlags(t *testing.T) {
	for _, tc := range []struct{ args, want string }{
		{"--peers 127.0.0.1:6222", "--peers needs --cluster-listen"},
		{"--cluster-listen 127.0.0.1:0 --nats nats://127.0.0.1:4222", "no --cluster-listen"},
		{"--heartbeat-timeout -1s", "--heartbeat-timeout -1s: want 1ms or more"},
		{"--heartbeat-timeout 4ns", "--heartbeat-timeout 4ns: want 1ms or more"},
	} {
		err := (&serveCommand{Stderr: io.Discard}).Run(context.Background(), append(strings.Fields(tc.args), "--data", t.TempDir()))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("lambada serve %s: %v, want %q", tc.args, err, tc.want)
		}
	}
}
