package main

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"
	"github.com/lambada-dev/lambada/bench"
	"github.com/lambada-dev/lambada/codecache"
	"github.com/lambada-dev/lambada/internal/poll"
	"github.com/lambada-dev/lambada/internal/testfn"
)

// fnZip is the real aws-lambda-go test function, built once per test run.
var fnZip []byte

func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == bench.FloorCommand { // BenchmarkFloor's floor server
		bench.ServeFloor()
	}
	dir, err := os.MkdirTemp("", "lambada-test")
	if err != nil {
		panic(err)
	}
	if fnZip, err = testfn.Zip(dir); err != nil {
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// MustOpenMain starts a real Lambada node on a free loopback port with its
// data in dir (a new temporary directory when dir is "").
func MustOpenMain(tb testing.TB, dir string, configure ...func(*Main)) *Main {
	tb.Helper()
	if dir == "" {
		dir = tb.TempDir()
		tb.Cleanup(func() { codecache.RemoveAll(dir) })
	}
	m := &Main{Listen: "127.0.0.1:0", Data: dir, Region: "us-east-1", Account: "000000000000",
		Logger: slog.New(slog.NewTextHandler(testWriter{tb}, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	m.FirstUID, m.LastUID = spareUIDs() // nodes of parallel tests must not share uids
	for _, f := range configure {
		f(m)
	}
	if err := m.Open(context.Background()); err != nil {
		tb.Fatalf("open: %v", err)
	}
	tb.Cleanup(func() { m.Close() })
	return m
}

type testWriter struct{ tb testing.TB }

func (w testWriter) Write(b []byte) (int, error) {
	w.tb.Logf("%s", bytes.TrimRight(b, "\n"))
	return len(b), nil
}

// client is a Go SDK client for m with retries off.
func client(m *Main) *lambda.Client {
	return lambda.New(lambda.Options{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String("http://" + m.Addr()),
		Credentials:      credentials.NewStaticCredentialsProvider("x", "x", ""),
		RetryMaxAttempts: 1,
	})
}

// MustCreateFunction deploys the test function as name.
func MustCreateFunction(tb testing.TB, c *lambda.Client, name string, timeout int32, env map[string]string) {
	tb.Helper()
	in := &lambda.CreateFunctionInput{
		FunctionName: aws.String(name),
		Runtime:      types.RuntimeProvidedal2023,
		Handler:      aws.String("bootstrap"),
		Role:         aws.String("arn:aws:iam::123456789012:role/any"),
		Code:         &types.FunctionCode{ZipFile: fnZip},
		Timeout:      aws.Int32(timeout),
	}
	in.Environment = &types.Environment{Variables: withMarks(tb, env)}
	if _, err := c.CreateFunction(context.Background(), in); err != nil {
		tb.Fatalf("create %s: %v", name, err)
	}
	MustSettle(tb, c, name)
}

// withMarks returns env (a copy) with the URL of the test's marks server, so
// that the test function, walled in, reads and writes marks through it.
func withMarks(tb testing.TB, env map[string]string) map[string]string {
	tb.Helper()
	url, err := testfn.MarksURL()
	if err != nil {
		tb.Fatal(err)
	}
	out := map[string]string{testfn.MarksEnv: url}
	for k, v := range env {
		out[k] = v
	}
	return out
}

// MustSettle waits until the function name is ready: Active, its last update
// Successful. It fails tb when the function Failed.
func MustSettle(tb testing.TB, c *lambda.Client, name string) {
	tb.Helper()
	poll.Until(tb, 30*time.Second, name+" is Active and its last update Successful", func() bool {
		out, err := c.GetFunction(context.Background(), &lambda.GetFunctionInput{FunctionName: aws.String(name)})
		if err != nil {
			tb.Fatalf("get %s: %v", name, err)
		}
		cfg := out.Configuration
		if cfg.State == types.StateFailed || cfg.LastUpdateStatus == types.LastUpdateStatusFailed {
			tb.Fatalf("%s failed: %s %s", name, aws.ToString(cfg.StateReason), aws.ToString(cfg.LastUpdateStatusReason))
		}
		return cfg.State == types.StateActive && cfg.LastUpdateStatus == types.LastUpdateStatusSuccessful
	})
}

// awsCLI runs the real AWS CLI against m with retries off. It returns
// stdout, stderr and the exit code.
func awsCLI(tb testing.TB, m *Main, args ...string) (string, string, int) {
	tb.Helper()
	return awsCLIWith(tb, m, nil, args...)
}

// awsCLIWith is awsCLI with more environment variables (a key, a region),
// which win over its own.
func awsCLIWith(tb testing.TB, m *Main, env []string, args ...string) (string, string, int) {
	tb.Helper()
	cmd := awsCommand(m, env, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		tb.Fatalf("aws %s: %v", strings.Join(args, " "), err)
	}
	return stdout.String(), stderr.String(), code
}

// awsCommand is the AWS CLI with args, against m, with retries off and env
// over its own environment.
func awsCommand(m *Main, env []string, args ...string) *exec.Cmd {
	cmd := exec.Command("aws", args...)
	cmd.Env = append(append(os.Environ(),
		"AWS_ENDPOINT_URL=http://"+m.Addr(), "AWS_ACCESS_KEY_ID=x", "AWS_SECRET_ACCESS_KEY=x",
		"AWS_DEFAULT_REGION=us-east-1", "AWS_MAX_ATTEMPTS=1", "AWS_RETRY_MODE=legacy",
		"AWS_EC2_METADATA_DISABLED=true", "AWS_PAGER="), env...)
	return cmd
}

// apiErrorCode returns the AWS error code of err, or "".
func apiErrorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}
