package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/lambada-dev/lambada"
	"github.com/lambada-dev/lambada/codecache"
	"github.com/lambada-dev/lambada/internal/natstest"
	"github.com/lambada-dev/lambada/internal/poll"
	"github.com/lambada-dev/lambada/jetstream"
)

// mustOpenCluster starts n nodes whose embedded stores form one JetStream
// cluster over loopback (each waits for a quorum of the others: they open
// together).
func mustOpenCluster(t *testing.T, n int, configure ...func(*Main)) []*Main {
	t.Helper()
	return mustOpenClusterOn(t, make([]string, n), configure...)
}

// mustOpenClusterOn is mustOpenCluster with the nodes' data directories
// ("": a new one).
func mustOpenClusterOn(t *testing.T, dirs []string, configure ...func(*Main)) []*Main {
	t.Helper()
	n := len(dirs)
	addrs := natstest.Addrs(t, n)
	nodes := make([]*Main, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			nodes[i] = MustOpenMain(t, dirs[i], func(m *Main) {
				m.Cluster = &jetstream.Cluster{Node: fmt.Sprintf("node%d", i), Listen: addrs[i], Peers: slices.Delete(slices.Clone(addrs), i, i+1)}
				for _, c := range configure {
					c(m)
				}
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
// node runs once it has it (and settled).
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
	for i, cl := range []*lambda.Client{a, b, c} {
		// Another node's view follows the store a moment behind: until it
		// has the update, it shows the function as it was, settled.
		poll.Until(t, 30*time.Second, fmt.Sprintf("node %d has the update", i), func() bool {
			out, err := cl.GetFunctionConfiguration(context.Background(), &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("everywhere")})
			return err == nil && out.Environment != nil && out.Environment.Variables["GREETING"] == "two"
		})
		MustSettle(t, cl, "everywhere")
		if got := greeting(t, cl); got != "two" {
			t.Errorf("node %d ran GREETING %q after the update", i, got)
		}
	}
}

// The other way to form a cluster: nodes that connect to a NATS cluster
// already running (--nats), here three servers that let in only a user
// with credentials (--nats-creds). The nodes count each other, keep three
// copies, and serve any request. The third node is `lambada serve` with
// those flags.
func TestCluster_NATS(t *testing.T) {
	t.Parallel()
	urls, creds := natstest.Secured(t, 3)
	nodes := make([]*Main, 2)
	var wg sync.WaitGroup
	for i := range nodes {
		wg.Go(func() {
			nodes[i] = MustOpenMain(t, "", func(m *Main) {
				m.NATS, m.NATSCreds, m.Replicas, m.NodeName = urls, creds, 3, fmt.Sprintf("node%d", i)
			})
		})
	}
	third, _, _ := startServe(t, "--data", t.TempDir(), "--nats", urls, "--nats-creds", creds, "--replicas", "3", "--node-name", "node2")
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	poll.Until(t, 30*time.Second, "every node counts the three", func() bool {
		return len(nodes[0].members.Live()) == 3 && len(nodes[1].members.Live()) == 3
	})
	MustCreateFunction(t, client(nodes[0]), "everywhere", 10, map[string]string{"GREETING": "one"})
	for i, cl := range []*lambda.Client{client(nodes[0]), client(nodes[1]), third} {
		if got := greeting(t, cl); got != "one" {
			t.Errorf("node %d ran it with GREETING %q", i, got)
		}
	}
	nc, err := nats.Connect(urls, nats.UserCredentials(creds))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := natsjs.New(nc)
	s, err := js.Stream(context.Background(), "KV_"+jetstream.FunctionsBucket)
	if err != nil {
		t.Fatal(err)
	}
	if r := s.CachedInfo().Config.Replicas; r != 3 {
		t.Errorf("the functions' bucket keeps %d copies, want 3", r)
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

// running is how many executions of function hold a slot on each node.
func running(nodes []*Main, function string) []int {
	out := make([]int, len(nodes))
	for i, n := range nodes {
		out[i] = n.limiter.Running(function)
	}
	return out
}

func sum(ns []int) int {
	t := 0
	for _, n := range ns {
		t += n
	}
	return t
}

// The account's limit and a reservation hold across the cluster: each
// node admits its share, a node whose share is taken hands invocations to
// the others, and the throttle comes, with its reason, only when the whole
// cluster is full. A node that leaves gives its share to the others.
func TestCluster_Limits(t *testing.T) {
	t.Parallel()
	nodes := mustOpenCluster(t, 3, func(m *Main) { m.Concurrency = 106 })
	a, b := client(nodes[0]), client(nodes[1])
	ctx := context.Background()
	MustCreateFunction(t, a, "pool", 30, nil)
	MustCreateFunction(t, a, "res", 30, nil)
	if _, err := a.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{FunctionName: aws.String("res"), ReservedConcurrentExecutions: aws.Int32(4)}); err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		MustSettle(t, client(n), "pool")
		MustSettle(t, client(n), "res")
	}
	wait, release := holdMarks(t)

	// The reservation of 4, all asked through one node, runs 4 across the
	// nodes; the fifth is throttled for the reservation.
	held := invokeAll(t, b, "res", wait("r"), 4)
	poll.Until(t, 30*time.Second, "4 executions of res", func() bool { return sum(running(nodes, "res")) == 4 })
	if r := running(nodes, "res"); slices.Max(r) > 2 {
		t.Errorf("res runs %v on the nodes: more than a node's share", r)
	}
	if got := collect(invokeAll(t, a, "res", `{"action":"noop"}`, 1), 1); got["TooManyRequestsException:ReservedFunctionConcurrentInvocationLimitExceeded"] != 1 {
		t.Fatalf("over the reservation: %v", got)
	}
	// The pool, 106 - 4 = 102, is 34 a node: 102 asked through one node
	// all run, and the next is throttled for the account.
	pool := invokeAll(t, a, "pool", wait("p"), 102)
	poll.Until(t, 60*time.Second, "102 executions of pool", func() bool { return sum(running(nodes, "pool")) == 102 })
	if r := running(nodes, "pool"); slices.Max(r) > 34 {
		t.Errorf("pool runs %v on the nodes: more than a node's share", r)
	}
	if got := collect(invokeAll(t, b, "pool", `{"action":"noop"}`, 1), 1); got["TooManyRequestsException:ConcurrentInvocationLimitExceeded"] != 1 {
		t.Fatalf("over the account's limit: %v", got)
	}
	release("r")
	release("p")
	if got := collect(held, 4); got["200"] != 4 {
		t.Fatalf("the reserved executions: %v", got)
	}
	if got := collect(pool, 102); got["200"] != 102 {
		t.Fatalf("the pool's executions: %v", got)
	}

	// A node that leaves hands its share to the others: two nodes now run
	// the whole reservation. And what it may have been preparing, the
	// others prepare: here a function left Pending, as by a node that died
	// preparing it.
	poolFn, err := nodes[0].node.Functions.Function(ctx, "pool")
	if err != nil {
		t.Fatal(err)
	}
	stuck := &lambada.Function{Name: "stuck", Latest: poolFn.Latest}
	stuck.Latest.Status = lambada.Creating()
	if _, err := nodes[2].node.Functions.PutFunction(ctx, stuck); err != nil {
		t.Fatal(err)
	}
	if err := nodes[2].Close(); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 30*time.Second, "the others see the node gone", func() bool {
		return len(nodes[0].members.Live()) == 2 && len(nodes[1].members.Live()) == 2
	})
	MustSettle(t, a, "stuck")
	held = invokeAll(t, a, "res", wait("r2"), 4)
	poll.Until(t, 30*time.Second, "4 executions of res on two nodes", func() bool { return sum(running(nodes[:2], "res")) == 4 })
	release("r2")
	if got := collect(held, 4); got["200"] != 4 {
		t.Fatalf("the reserved executions on two nodes: %v", got)
	}
}

// A node with no idle environment of a version hands the invocation to a
// node that has one, rather than start its own.
func TestCluster_Warm(t *testing.T) {
	t.Parallel()
	nodes := mustOpenCluster(t, 2)
	a, b := client(nodes[0]), client(nodes[1])
	MustCreateFunction(t, a, "warm", 10, nil)
	MustSettle(t, b, "warm")
	for range 3 {
		if out, _ := sdkInvoke(t, b, &lambda.InvokeInput{FunctionName: aws.String("warm"), Payload: []byte(`{"action":"noop"}`), LogType: types.LogTypeTail}); out.FunctionError != nil {
			t.Fatalf("through b: %s", out.Payload)
		}
	}
	poll.Until(t, 10*time.Second, "b has an idle environment", func() bool { return nodes[1].sandboxes.Idle() == 1 })
	for range 3 {
		out, _ := sdkInvoke(t, a, &lambda.InvokeInput{FunctionName: aws.String("warm"), Payload: []byte(`{"action":"echo"}`), LogType: types.LogTypeTail,
			ClientContext: aws.String("eyJjdXN0b20iOnsiayI6InYifX0=")})
		if out.FunctionError != nil || !strings.Contains(string(out.Payload), `"k":"v"`) || aws.ToString(out.LogResult) == "" || aws.ToString(out.ExecutedVersion) != "$LATEST" {
			t.Fatalf("through a: %s, log %q, version %q", out.Payload, aws.ToString(out.LogResult), aws.ToString(out.ExecutedVersion))
		}
	}
	if n := nodes[0].sandboxes.Environments(); n != 0 {
		t.Errorf("a started %d environments of its own while b had a warm one", n)
	}
	// b takes them straight from a, on the host of its cluster listener.
	if addr := nodes[1].relay.Addr(); !strings.HasPrefix(addr, "127.0.0.1:") || nodes[0].members.RelayAddr(nodes[1].members.Self) != addr {
		t.Errorf("b takes invocations straight on %q; a heard %q", addr, nodes[0].members.RelayAddr(nodes[1].members.Self))
	}
	// A function error crosses too.
	if out, _ := sdkInvoke(t, a, &lambda.InvokeInput{FunctionName: aws.String("warm"), Payload: []byte(`{"action":"error","msg":"boom"}`)}); aws.ToString(out.FunctionError) != "Unhandled" || !strings.Contains(string(out.Payload), "boom") {
		t.Errorf("a function error through a: %q %s", aws.ToString(out.FunctionError), out.Payload)
	}
}

// Provisioned concurrency is spread over the nodes, reported READY by any
// of them, and replaced on the others when a node leaves.
func TestCluster_Provisioned(t *testing.T) {
	t.Parallel()
	nodes := mustOpenCluster(t, 3)
	a, b := client(nodes[0]), client(nodes[1])
	ctx := context.Background()
	MustCreateFunction(t, a, "spread", 30, nil)
	mustPublish(t, a, "spread")
	if _, err := a.PutProvisionedConcurrencyConfig(ctx, &lambda.PutProvisionedConcurrencyConfigInput{FunctionName: aws.String("spread"),
		Qualifier: aws.String("1"), ProvisionedConcurrentExecutions: aws.Int32(3)}); err != nil {
		t.Fatal(err)
	}
	ready := func(ns []*Main) []int {
		out := make([]int, len(ns))
		for i, n := range ns {
			out[i] = n.sandboxes.ReadyAll()[lambada.VersionID("spread", "1")]
		}
		return out
	}
	poll.Until(t, 60*time.Second, "one environment on each node", func() bool { return slices.Equal(ready(nodes), []int{1, 1, 1}) })
	got := pollProvisioned(t, b, "spread", "1", types.ProvisionedConcurrencyStatusEnumReady)
	if aws.ToInt32(got.AllocatedProvisionedConcurrentExecutions) != 3 {
		t.Errorf("b reports %d allocated of 3", aws.ToInt32(got.AllocatedProvisionedConcurrentExecutions))
	}
	if initType, _ := initTypeOf(t, b, "spread:1"); initType != "provisioned-concurrency" {
		t.Errorf("an invocation through b ran in a %q environment", initType)
	}
	if err := nodes[2].Close(); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 60*time.Second, "the third environment started on another node", func() bool { return sum(ready(nodes[:2])) == 3 })
}

// A node that ran alone grows into a cluster of three without losing its
// functions: it is started again with the others, on its data, and every
// node runs what it had.
func TestCluster_Grow(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	t.Cleanup(func() { codecache.RemoveAll(dir) })
	alone := MustOpenMain(t, dir)
	MustCreateFunction(t, client(alone), "everywhere", 10, map[string]string{"GREETING": "kept"})
	if got := greeting(t, client(alone)); got != "kept" {
		t.Fatalf("alone: GREETING %q", got)
	}
	if err := alone.Close(); err != nil {
		t.Fatal(err)
	}
	nodes := mustOpenClusterOn(t, []string{dir, "", ""})
	for i, n := range nodes {
		MustSettle(t, client(n), "everywhere")
		if got := greeting(t, client(n)); got != "kept" {
			t.Errorf("node %d ran GREETING %q", i, got)
		}
	}
}

// A node on --nats with no --node-name keeps the name it made at its
// first start: the others would count each new one in their majority.
func TestMain_NodeNameKept(t *testing.T) {
	dir := t.TempDir()
	first := (&Main{Data: dir, NATS: "nats://127.0.0.1:4222", Logger: slog.New(slog.DiscardHandler)}).nodeName()
	again := (&Main{Data: dir, NATS: "nats://127.0.0.1:4222", Logger: slog.New(slog.DiscardHandler)}).nodeName()
	other := (&Main{Data: t.TempDir(), NATS: "nats://127.0.0.1:4222", Logger: slog.New(slog.DiscardHandler)}).nodeName()
	if first == "" || again != first || other == first {
		t.Errorf("names %q, then %q on the same data, %q on other data", first, again, other)
	}
}

// A node stopped while it runs an invocation for another lets it end (its
// relay waits, relay.CloseWait at most), and only then tells the others it
// left: the caller has its result.
func TestCluster_StopsAfterItsWork(t *testing.T) {
	t.Parallel()
	nodes := mustOpenCluster(t, 2, func(m *Main) { m.Concurrency = 2 })
	a := client(nodes[0])
	MustCreateFunction(t, a, "held", 30, nil)
	for _, n := range nodes {
		MustSettle(t, client(n), "held")
	}
	wait, release := holdMarks(t)
	first := invokeAll(t, a, "held", wait("h"), 1)
	poll.Until(t, 30*time.Second, "a runs one", func() bool { return running(nodes, "held")[0] == 1 })
	var second <-chan string // a hands it to b (again, when b did not answer in time)
	poll.Until(t, 30*time.Second, "b runs one for a", func() bool {
		if second == nil {
			second = invokeAll(t, a, "held", wait("h"), 1)
		}
		select {
		case got := <-second:
			t.Logf("not handed to b: %s", got)
			second = nil
		default:
		}
		return running(nodes, "held")[1] == 1
	})
	closed := make(chan error, 1)
	go func() { closed <- nodes[1].Close() }()
	poll.Until(t, 10*time.Second, "b stopping", func() bool { return nodes[1].relay.Addr() == "" })
	// It runs what it took to its end, and takes no more straight: its
	// heartbeats no longer tell its address.
	poll.Until(t, 10*time.Second, "a hears b takes no more", func() bool { return nodes[0].members.RelayAddr(nodes[1].members.Self) == "" })
	release("h")
	if got := collect(second, 1); got["200"] != 1 {
		t.Errorf("the invocation b ran as it stopped: %v", got)
	}
	if got := collect(first, 1); got["200"] != 1 {
		t.Errorf("the invocation a ran: %v", got)
	}
	if err := <-closed; err != nil {
		t.Error(err)
	}
}

type functionList []*lambada.Function

func (l functionList) Functions(context.Context) ([]*lambada.Function, error) { return l, nil }

// The applier applies the functions with provisioned concurrency again
// when the live nodes change, and when the lease is held or lost (the
// environments follow the last view the lease was held under): at a
// node's start its view is often formed before its lease.
func TestApplier_AppliesOnLeaseChanges(t *testing.T) {
	f := &lambada.Function{Name: "fn", Versions: []lambada.FunctionConfig{{Version: "1"}}}
	f.PutProvisioned(lambada.ProvisionedConfig{Qualifier: "1", Requested: 2})
	var mu sync.Mutex
	applied := 0
	a := &applier{functions: functionList{f, {Name: "plain"}}, logger: slog.New(slog.DiscardHandler),
		apply: func(_ context.Context, key string) error {
			if key != "fn" {
				t.Errorf("applied %s", key)
			}
			mu.Lock()
			applied++
			mu.Unlock()
			return nil
		}}
	a.open()
	defer a.close()
	count := func() int { mu.Lock(); defer mu.Unlock(); return applied }
	for i, step := range []struct {
		live   []string
		leased bool
		want   int
	}{
		{[]string{"a", "b"}, false, 1},
		{[]string{"a", "b"}, false, 1}, // nothing changed
		{[]string{"a", "b"}, true, 2},
		{[]string{"a"}, true, 3},
	} {
		a.nodes(step.live, step.leased)
		poll.Until(t, 5*time.Second, fmt.Sprintf("step %d: applied %d times", i, step.want), func() bool { return count() >= step.want })
		if got := count(); got != step.want {
			t.Errorf("step %d: applied %d times, want %d", i, got, step.want)
		}
	}
}

// A node whose lease lapsed stops what still runs on it when its Fence
// comes, before the others may take its share over, and at every view it
// is told after: the caller has the answer of an environment that died.
// (The views are given by the test.)
func TestCluster_FenceStopsWhatRuns(t *testing.T) {
	t.Parallel()
	nodes := mustOpenCluster(t, 2)[:1]
	c := client(nodes[0])
	MustCreateFunction(t, c, "long", 60, nil)
	MustSettle(t, c, "long")
	wait, release := holdMarks(t)
	defer release("h")
	start := func(what string) <-chan string { // again while the node throttles it (its lease back a beat late)
		var held <-chan string
		poll.Until(t, 30*time.Second, what, func() bool {
			if held == nil {
				held = invokeAll(t, c, "long", wait("h"), 1)
			}
			select {
			case got := <-held:
				t.Logf("%s: %s", what, got)
				held = nil
			default:
			}
			return held != nil && nodes[0].sandboxes.States()["running"] == 1
		})
		return held
	}
	held := start("it runs")
	self := nodes[0].members.Self
	lapsed := lambada.NewMembers(self, nodes[0].members.Live(), time.Now().Add(-time.Second))
	lapsed.Fence = time.Now().Add(time.Hour)
	nodes[0].changed(lapsed) // not yet
	if n := running(nodes, "long")[0]; n != 1 {
		t.Fatalf("%d running before the fence, want 1", n)
	}
	answer := func(held <-chan string) string { return poll.Receive(t, 30*time.Second, "the caller's answer", held) }
	lapsed.Fence = time.Now().Add(-time.Millisecond)
	nodes[0].changed(lapsed)
	if got := answer(held); got == "200" {
		t.Errorf("the invocation running at the fence answered %s", got)
	}
	// Told the same view again (the next beat, the lease still lapsed), it
	// stops what started since: here an invocation admitted as the test's
	// view was replaced by the node's own.
	nodes[0].changed(nodes[0].members.View(time.Now())) // its own view, leased: it runs the next itself
	held = start("another runs")
	nodes[0].changed(lapsed)
	if got := answer(held); got == "200" {
		t.Errorf("the invocation running at the next beat past the fence answered %s", got)
	}
}

// A node leaving the cluster runs nothing more once it fenced itself,
// whatever view its heartbeats bring meanwhile: its invocations run on
// the other node.
func TestCluster_LeavingStaysFenced(t *testing.T) {
	t.Parallel()
	nodes := mustOpenCluster(t, 2)
	a := client(nodes[0])
	MustCreateFunction(t, a, "held", 30, nil)
	for _, n := range nodes {
		MustSettle(t, client(n), "held")
	}
	nodes[0].leave()
	nodes[0].changed(nodes[0].members.View(time.Now())) // leased
	wait, release := holdMarks(t)
	defer release("h")
	held := invokeAll(t, a, "held", wait("h"), 1)
	poll.Until(t, 30*time.Second, "the other node runs it", func() bool { return running(nodes, "held")[1] == 1 })
	if n := running(nodes, "held")[0]; n != 0 {
		t.Errorf("the node leaving runs %d", n)
	}
	release("h")
	if got := collect(held, 1); got["200"] != 1 {
		t.Errorf("the invocation: %v", got)
	}
}

// A node stopped stops what still runs on it (here an invocation through
// its API that the 5 s it waits for requests did not see end) before it
// tells the others it left: they take its share over at once.
func TestCluster_StopsWhatRunsBeforeLeaving(t *testing.T) {
	t.Parallel()
	var log syncBuffer // node1's
	nodes := mustOpenCluster(t, 2, func(m *Main) {
		if m.Cluster.Node == "node1" {
			m.Logger = slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelInfo}))
		}
	})
	b := client(nodes[1])
	MustCreateFunction(t, b, "held", 60, nil)
	for _, n := range nodes {
		MustSettle(t, client(n), "held")
	}
	wait, release := holdMarks(t)
	defer release("h")
	held := invokeAll(t, b, "held", wait("h"), 1)
	poll.Until(t, 30*time.Second, "node1 runs it", func() bool { return nodes[1].sandboxes.States()["running"] == 1 })
	if err := nodes[1].Close(); err != nil {
		t.Error(err)
	}
	out := log.String()
	stopped, left := strings.Index(out, "before leaving the cluster"), strings.Index(out, "left the cluster\"")
	if stopped < 0 || left < 0 || stopped > left {
		t.Errorf("node1 did not stop what ran before it left (stopped at %d, left at %d in its log)", stopped, left)
	}
	if got := collect(held, 1); got["200"] != 0 {
		t.Errorf("the invocation node1 stopped: %v", got)
	}
}
