// Command fn is the Lambda function the tests deploy: a real aws-lambda-go
// bootstrap whose behaviour the event chooses ({"action": …}). The
// environment variable TESTFN_INIT chooses a failure during init.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

type event struct {
	Action string          `json:"action"`
	Msg    string          `json:"msg"`
	Code   int             `json:"code"`
	MS     int             `json:"ms"`
	Size   int             `json:"size"`
	Count  int             `json:"count"`
	Value  json.RawMessage `json:"value"`
	Mark   string          `json:"mark"`
}

// invocations counts invocations in this process: a reset environment
// starts again from 1.
var invocations int

// envID tells this process from any other: in walls every environment's
// runtime is pid 1.
var envID = strconv.FormatInt(time.Now().UnixNano(), 36) + "-" + strconv.Itoa(os.Getpid())

// hoard keeps what "alloc" allocated live for the process's lifetime.
var hoard [][]byte

func handle(ctx context.Context, raw json.RawMessage) (any, error) {
	started := time.Now()
	invocations++
	lc, _ := lambdacontext.FromContext(ctx)
	var ev event
	_ = json.Unmarshal(raw, &ev)
	if sink := os.Getenv("TESTFN_SINK"); sink != "" { // every event, one line each: a destination's records
		return nil, appendLine(sink, compact(raw))
	}
	if ev.Action != "noop" {
		fmt.Printf("pid=%d env=%s\n", os.Getpid(), envID)
	}
	switch ev.Action {
	case "noop":
		return nil, nil
	case "print":
		for i := 0; i < max(ev.Count, 1); i++ {
			fmt.Println(ev.Msg)
		}
		fmt.Fprintln(os.Stderr, "stderr:"+ev.Msg)
	case "error":
		return nil, errors.New(ev.Msg)
	case "panic":
		panic(ev.Msg)
	case "exit":
		fmt.Println("exiting", ev.Code)
		os.Exit(ev.Code)
	case "sleep":
		time.Sleep(time.Duration(ev.MS) * time.Millisecond)
	case "big":
		return strings.Repeat("x", ev.Size), nil
	case "raw":
		return ev.Value, nil
	case "alloc": // size MB, every page touched and kept live; then ms
		b := make([]byte, ev.Size<<20)
		for i := 0; i < len(b); i += 4096 {
			b[i] = 1
		}
		hoard = append(hoard, b)
		time.Sleep(time.Duration(ev.MS) * time.Millisecond)
		return map[string]int{"allocatedMB": ev.Size, "pid": os.Getpid()}, nil
	case "wait": // until the file mark exists (the test releases it), then as noop
		for {
			if _, err := readMark(ev.Mark); err == nil {
				return nil, nil
			}
			time.Sleep(2 * time.Millisecond)
		}
	case "next": // asks the Runtime API for work before answering; returns its answer
		return runtimeAnswer(http.Get("http://" + os.Getenv("AWS_LAMBDA_RUNTIME_API") + "/2018-06-01/runtime/invocation/next"))
	case "wrongid": // answers another request id first; returns what the Runtime API said
		url := "http://" + os.Getenv("AWS_LAMBDA_RUNTIME_API") + "/2018-06-01/runtime/invocation/not-" + lc.AwsRequestID + "/response"
		return runtimeAnswer(http.Post(url, "application/json", strings.NewReader(`"forged"`)))
	case "attack": // what a hostile function tries (attack.go)
		return attack(ev)
	case "limits": // the process's open-file limit, and how many files it could open
		return fileLimits()
	case "notify": // posts the time the handler started (Unix ns) to the URL msg, with the request id
		return nil, notify(ev.Msg, lc.AwsRequestID, started)
	case "record": // appends "<request id> <TESTFN_TAG>" to the file mark, waits ms; fails while the id has been seen at most count times
		return record(lc.AwsRequestID, ev)
	case "span": // appends "S <request id> <Unix ns> <runtime API>" to the file mark, waits ms, appends "E <request id> <Unix ns>"
		if err := appendLine(ev.Mark, fmt.Sprintf("S %s %d %s", lc.AwsRequestID, started.UnixNano(), os.Getenv("AWS_LAMBDA_RUNTIME_API"))); err != nil {
			return nil, err
		}
		time.Sleep(time.Duration(ev.MS) * time.Millisecond)
		return nil, appendLine(ev.Mark, fmt.Sprintf("E %s %d", lc.AwsRequestID, time.Now().UnixNano()))
	case "file": // a file of the deployment package, read after ms
		if ev.Mark != "" { // tells the test the invocation has started
			_ = touchMark(ev.Mark)
		}
		time.Sleep(time.Duration(ev.MS) * time.Millisecond)
		b, err := os.ReadFile(ev.Msg)
		if err != nil {
			return nil, err
		}
		return string(b), nil
	}
	deadline, _ := ctx.Deadline()
	env := map[string]string{}
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	wd, _ := os.Getwd()
	var tmp syscall.Statfs_t
	_ = syscall.Statfs("/tmp", &tmp)
	return map[string]any{
		"tmpMB":         int64(tmp.Blocks) * tmp.Bsize >> 20,
		"event":         raw,
		"requestId":     lc.AwsRequestID,
		"invokedArn":    lc.InvokedFunctionArn,
		"clientContext": lc.ClientContext,
		"deadlineMs":    deadline.UnixMilli(),
		"env":           env,
		"pid":           os.Getpid(),
		"envId":         envID,
		"invocations":   invocations,
		"wd":            wd,
	}, nil
}

// runtimeAnswer is what the Runtime API answered a request of the
// function's own: its status and JSON body.
func runtimeAnswer(resp *http.Response, err error) (map[string]any, error) {
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var body json.RawMessage
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return map[string]any{"status": resp.StatusCode, "body": body}, nil
}

func main() {
	switch os.Getenv("TESTFN_INIT") {
	case "exit":
		fmt.Println("init: exiting")
		os.Exit(3)
	case "initerror":
		body := `{"errorMessage":"init failed on purpose","errorType":"InitFailed"}`
		url := "http://" + os.Getenv("AWS_LAMBDA_RUNTIME_API") + "/2018-06-01/runtime/init/error"
		req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
		req.Header.Set("Lambda-Runtime-Function-Error-Type", "InitFailed")
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
		os.Exit(1)
	case "hang":
		select {}
	case "slow": // TESTFN_INIT_MS long (default 1500)
		ms, err := strconv.Atoi(os.Getenv("TESTFN_INIT_MS"))
		if err != nil {
			ms = 1500
		}
		time.Sleep(time.Duration(ms) * time.Millisecond)
	}
	lambda.Start(handle)
}

// appendLine appends line and a newline to the file path in one write.
func appendLine(path, line string) error {
	if base := os.Getenv("TESTFN_MARKS"); base != "" {
		return markRequest(http.MethodPost, base+path, line+"\n", nil)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	_, err = f.WriteString(line + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// readMark reads the mark path: through the test's marks server when
// TESTFN_MARKS names one (the function's walls hide the host's files),
// else from the file.
func readMark(path string) ([]byte, error) {
	base := os.Getenv("TESTFN_MARKS")
	if base == "" {
		return os.ReadFile(path)
	}
	var b bytes.Buffer
	err := markRequest(http.MethodGet, base+path, "", &b)
	return b.Bytes(), err
}

// touchMark creates the mark path, empty.
func touchMark(path string) error {
	if base := os.Getenv("TESTFN_MARKS"); base != "" {
		return markRequest(http.MethodPut, base+path, "", nil)
	}
	return os.WriteFile(path, nil, 0o644)
}

// markRequest asks the marks server; a status other than 200 is an error.
func markRequest(method, url, body string, out io.Writer) error {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %s", method, url, resp.Status)
	}
	if out != nil {
		_, err = io.Copy(out, resp.Body)
	}
	return err
}

// compact is raw JSON on one line.
func compact(raw json.RawMessage) string {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return string(raw)
	}
	return b.String()
}

// record appends a line for this attempt of requestID to ev.Mark (one
// write with O_APPEND: lines of concurrent environments never mix) and
// fails the first ev.Count attempts of it.
func record(requestID string, ev event) (any, error) {
	err := appendLine(ev.Mark, requestID+" "+os.Getenv("TESTFN_TAG"))
	time.Sleep(time.Duration(ev.MS) * time.Millisecond)
	if err != nil || ev.Count == 0 {
		return nil, err
	}
	b, err := readMark(ev.Mark)
	if err != nil {
		return nil, err
	}
	if n := strings.Count(string(b), requestID+" "); n <= ev.Count {
		return nil, fmt.Errorf("attempt %d of %s fails", n, requestID)
	}
	return nil, nil
}

// notify tells the benchmark at url when request id started.
func notify(url, id string, started time.Time) error {
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(strconv.FormatInt(started.UnixNano(), 10)))
	if err != nil {
		return err
	}
	req.Header.Set("X-Request-Id", id)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	return resp.Body.Close()
}

// fileLimits reports RLIMIT_NOFILE, whether raising it failed, and how many
// files the process could open before it was refused.
func fileLimits() (any, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return nil, err
	}
	raise := lim
	raise.Max, raise.Cur = lim.Max*2, lim.Max*2
	raiseErr := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &raise)
	var files []*os.File
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	for len(files) < 100000 {
		f, err := os.Open("/dev/null")
		if err != nil {
			break
		}
		files = append(files, f)
	}
	return map[string]any{"soft": lim.Cur, "hard": lim.Max, "raised": raiseErr == nil, "opened": len(files)}, nil
}
