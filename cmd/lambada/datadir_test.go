package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/lambada-dev/lambada"
	"github.com/lambada-dev/lambada/codecache"
	"github.com/lambada-dev/lambada/internal/poll"
)

// A second node on a data directory in use refuses to start, before it
// opens the store, and names the process that holds the directory; once
// that one stops, the directory is free again.
func TestServe_DataDirInUse(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	t.Cleanup(func() { codecache.RemoveAll(dir) })

	// The holder is a real `lambada serve` in a child process.
	child, _ := childNode(t, dir)
	data := filepath.Join(dir, "data")
	second := &Main{Listen: "127.0.0.1:0", Data: data, Region: "us-east-1", Account: "000000000000"}
	err := second.Open(t.Context())
	want := fmt.Sprintf("the data directory %s is in use by process %d", data, child.Pid)
	if err == nil || !strings.Contains(err.Error(), want) {
		second.Close()
		t.Fatalf("second node on %s: %v, want %q", data, err, want)
	}
	if _, err := os.Stat(filepath.Join(data, "nats", "jetstream", "$G", "streams", "lambada_events", "msgs")); err != nil {
		t.Fatalf("the child's store is not there: %v", err)
	}
	if err := child.Close(); err != nil {
		t.Fatal(err)
	}
	m := MustOpenMain(t, data)
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
}

// The code of a deleted function is removed from the data directory, and
// from the store.
func TestServe_PrunesCode(t *testing.T) {
	t.Parallel()
	m := MustOpenMain(t, "", func(m *Main) { m.CodePruneEvery, m.CodePruneAge = 20*time.Millisecond, time.Nanosecond })
	c := client(m)
	MustCreateFunction(t, c, "gone", 3, nil)
	MustCreateFunction(t, c, "kept", 3, nil)
	out, err := c.GetFunction(context.Background(), &lambda.GetFunctionInput{FunctionName: aws.String("gone")})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(m.Data, "code", lambada.CodeKey(aws.ToString(out.Configuration.CodeSha256)))
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("not unpacked: %v", err)
	}
	// Both functions run the same archive: it stays while one does.
	if _, err := c.DeleteFunction(context.Background(), &lambda.DeleteFunctionInput{FunctionName: aws.String("gone")}); err != nil {
		t.Fatal(err)
	}
	passes := m.pruner.Passes()
	poll.Until(t, 20*time.Second, "two passes of the pruner", func() bool { return m.pruner.Passes() >= passes+2 })
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("the code of a function still there was removed: %v", err)
	}
	if _, err := c.DeleteFunction(context.Background(), &lambda.DeleteFunctionInput{FunctionName: aws.String("kept")}); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 20*time.Second, "the unpacked code is removed", func() bool {
		_, err := os.Stat(dir)
		return os.IsNotExist(err)
	})
	poll.Until(t, 20*time.Second, "the archive is deleted from the store", func() bool {
		_, err := m.node.Code.Code(context.Background(), filepath.Base(dir))
		return lambada.ErrorCode(err) == lambada.ENOTFOUND
	})
}

// A node removes the half-done unpacks a killed node left in its data
// directory.
func TestServe_SweepsHalfDoneUnpacks(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	t.Cleanup(func() { codecache.RemoveAll(dir) })
	half := filepath.Join(dir, "code", ".unpack-0123456789abcdef-7")
	if err := os.MkdirAll(filepath.Join(half, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	MustOpenMain(t, dir)
	if _, err := os.Stat(half); !os.IsNotExist(err) {
		t.Fatalf("%s remains: %v", half, err)
	}
}

// A function may open 1024 files, as on AWS. Without CAP_SYS_RESOURCE (this
// machine's root lacks it) it cannot raise the limit.
func TestServe_FileLimit(t *testing.T) {
	t.Parallel()
	m := MustOpenMain(t, "")
	c := client(m)
	MustCreateFunction(t, c, "files", 3, nil)
	out, err := c.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String("files"), Payload: []byte(`{"action":"limits"}`)})
	if err != nil || out.FunctionError != nil {
		t.Fatalf("%v %s", err, out.Payload)
	}
	var got struct {
		Soft, Hard uint64
		Raised     bool
		Opened     int
	}
	if err := json.Unmarshal(out.Payload, &got); err != nil {
		t.Fatal(err)
	}
	// The runtime holds a few files of its own (stdin, stdout, stderr, its
	// connection, …).
	if got.Soft != 1024 || got.Hard != 1024 {
		t.Fatalf("limits %+v", got)
	}
	if got.Raised {
		t.Logf("the function raised its limit: it runs with CAP_SYS_RESOURCE (%+v)", got)
	} else if got.Opened > 1024 || got.Opened < 1000 {
		t.Fatalf("opened %d files under a limit of 1024", got.Opened)
	}
}
