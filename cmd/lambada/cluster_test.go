package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"slices"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/lambada-dev/lambada/jetstream"
)

// mustOpenCluster starts n nodes whose embedded stores form one JetStream
// cluster over loopback (each waits for a quorum of the others: they open
// together).
func mustOpenCluster(t *testing.T, n int) []*Main {
	t.Helper()
	addrs := make([]string, n)
	for i := range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addrs[i] = ln.Addr().String()
		ln.Close()
	}
	nodes := make([]*Main, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			nodes[i] = MustOpenMain(t, "", func(m *Main) {
				m.Cluster = &jetstream.Cluster{Node: fmt.Sprintf("node%d", i), Listen: addrs[i], Peers: slices.Delete(slices.Clone(addrs), i, i+1)}
			})
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	return nodes
}

// Any node of a cluster serves any request: a function created through one
// node runs on the others, and an update through a third is what every
// node runs next.
func TestCluster_AnyNode(t *testing.T) {
	t.Parallel()
	nodes := mustOpenCluster(t, 3)
	a, b, c := client(nodes[0]), client(nodes[1]), client(nodes[2])
	MustCreateFunction(t, a, "everywhere", 10, map[string]string{"GREETING": "one"})
	for i, cl := range []*lambda.Client{a, b, c} {
		if got := greeting(t, cl); got != "one" {
			t.Errorf("node %d ran it with GREETING %q", i, got)
		}
	}
	if _, err := c.UpdateFunctionConfiguration(context.Background(), &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("everywhere"),
		Environment: &types.Environment{Variables: withMarks(t, map[string]string{"GREETING": "two"})}}); err != nil {
		t.Fatal(err)
	}
	MustSettle(t, a, "everywhere")
	for i, cl := range []*lambda.Client{a, b, c} {
		MustSettle(t, cl, "everywhere")
		if got := greeting(t, cl); got != "two" {
			t.Errorf("node %d ran GREETING %q after the update", i, got)
		}
	}
}

// greeting is the GREETING the function sees when invoked through cl.
func greeting(t *testing.T, cl *lambda.Client) string {
	t.Helper()
	out, _ := sdkInvoke(t, cl, &lambda.InvokeInput{FunctionName: aws.String("everywhere"), Payload: []byte(`{"action":"echo"}`)})
	var e struct{ Env map[string]string }
	if out.FunctionError != nil || json.Unmarshal(out.Payload, &e) != nil {
		t.Fatalf("echo: %s %s", aws.ToString(out.FunctionError), out.Payload)
	}
	return e.Env["GREETING"]
}
