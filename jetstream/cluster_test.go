package jetstream

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/lambada-dev/lambada"
	"github.com/lambada-dev/lambada/internal/natstest"
	"github.com/lambada-dev/lambada/internal/poll"
)

// MustOpenCluster opens n nodes whose embedded servers cluster with each
// other, each on its own directory: dirs, then new ones.
func MustOpenCluster(t *testing.T, n int, dirs ...string) []*Node {
	t.Helper()
	for len(dirs) < n {
		dirs = append(dirs, t.TempDir())
	}
	addrs := natstest.Addrs(t, n)
	nodes := make([]*Node, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			peers := slices.Delete(slices.Clone(addrs), i, i+1)
			nodes[i], errs[i] = Open(context.Background(), Config{Dir: dirs[i], Logger: testLogger(t),
				Cluster: &Cluster{Node: fmt.Sprintf("node%d", i), Listen: addrs[i], Peers: peers}})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
		t.Cleanup(func() { nodes[i].Close() })
	}
	return nodes
}

// Three embedded servers form one JetStream cluster: every bucket and
// stream has three copies, a write on one node is seen by the others, two
// nodes writing one function on the same revision cannot both win, and the
// cluster keeps taking writes with one node gone.
func TestCluster(t *testing.T) {
	ctx := context.Background()
	nodes := MustOpenCluster(t, 3)
	for _, name := range []string{"KV_" + FunctionsBucket, "OBJ_" + CodeBucket, EventsStream, LogsStream, "KV_" + QueuesBucket} {
		s, err := nodes[0].js.Stream(ctx, name)
		if err != nil {
			t.Fatalf("stream %s: %v", name, err)
		}
		if r := s.CachedInfo().Config.Replicas; r != 3 {
			t.Errorf("stream %s has %d replicas, want 3", name, r)
		}
	}

	f := &lambada.Function{Name: "fn", Latest: lambada.NewFunctionConfig()}
	rev, err := nodes[0].Functions.PutFunction(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes[1:] {
		poll.Until(t, 10*time.Second, "another node sees the function", func() bool {
			got, err := n.Functions.Function(ctx, "fn")
			return err == nil && got.Revision == rev
		})
	}
	// Two nodes update the function from the same revision: one wins.
	a, _ := nodes[1].Functions.Function(ctx, "fn")
	b, _ := nodes[2].Functions.Function(ctx, "fn")
	a.Latest.Description, b.Latest.Description = "a", "b"
	_, errA := nodes[1].Functions.PutFunction(ctx, a)
	_, errB := nodes[2].Functions.PutFunction(ctx, b)
	if (errA == nil) == (errB == nil) || lambada.ErrorCode(errA)+lambada.ErrorCode(errB) != lambada.EPRECONDITION {
		t.Errorf("two updates of one revision: %v and %v", errA, errB)
	}

	zip := []byte("PK\x05\x06" + string(make([]byte, 18)))
	if err := nodes[0].Code.PutCode(ctx, "k", zip); err != nil {
		t.Fatal(err)
	}
	// Another node may read from a follower a moment behind the leader.
	poll.Until(t, 10*time.Second, "another node reads the code", func() bool {
		got, err := nodes[2].Code.Code(ctx, "k")
		return err == nil && string(got) == string(zip)
	})

	// One node gone: the two others keep a quorum.
	nodes[2].Close()
	f2 := &lambada.Function{Name: "fn2", Latest: lambada.NewFunctionConfig()}
	if _, err := nodes[0].Functions.PutFunction(ctx, f2); err != nil {
		t.Fatalf("a write with a node gone: %v", err)
	}
	poll.Until(t, 60*time.Second, "the other node sees it (after a new stream leader, if the one gone led it)", func() bool {
		_, err := nodes[1].Functions.Function(ctx, "fn2")
		return err == nil
	})
}

// A node may use a NATS server of its own (Config.URL) instead of an
// embedded one: here a JetStream server started by the test, which two
// nodes share.
func TestOpen_URL(t *testing.T) {
	ctx := context.Background()
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, JetStream: true, StoreDir: t.TempDir(), NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	t.Cleanup(srv.Shutdown)
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	open := func() *Node {
		n, err := Open(ctx, Config{Dir: t.TempDir(), URL: srv.ClientURL(), Logger: testLogger(t)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { n.Close() })
		return n
	}
	a, b := open(), open()
	if a.server != nil || a.SyncsEveryWrite() {
		t.Error("a node with a URL embeds a server")
	}
	if _, err := a.Functions.PutFunction(ctx, &lambada.Function{Name: "fn", Latest: lambada.NewFunctionConfig()}); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 10*time.Second, "the other node sees the function", func() bool {
		_, err := b.Functions.Function(ctx, "fn")
		return err == nil
	})
	a.Close()
	if srv.NumClients() == 0 { // b's connection
		t.Error("closing one node closed the server's other clients")
	}
}

// A NATS server that wants credentials (here a JWT-authenticated one, as
// NGS or a secured cluster is): a node connects with its creds file, and
// is refused without one; and one that wants a user and a password, given
// in the URL.
func TestOpen_URLCreds(t *testing.T) {
	ctx := context.Background()
	url, creds := natstest.Secured(t, 1)
	if n, err := Open(ctx, Config{Dir: t.TempDir(), URL: url, Logger: testLogger(t)}); err == nil {
		n.Close()
		t.Fatal("a node without credentials connected")
	}
	n, err := Open(ctx, Config{Dir: t.TempDir(), URL: url, Credentials: creds, Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("with the creds file: %v", err)
	}
	t.Cleanup(func() { n.Close() })
	if _, err := n.Functions.PutFunction(ctx, &lambada.Function{Name: "fn", Latest: lambada.NewFunctionConfig()}); err != nil {
		t.Fatal(err)
	}

	// A user and a password in the URL.
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, JetStream: true, StoreDir: t.TempDir(), NoSigs: true,
		Username: "lambada", Password: "s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	t.Cleanup(srv.Shutdown)
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	addr := srv.Addr().String()
	if n, err := Open(ctx, Config{Dir: t.TempDir(), URL: "nats://" + addr, Logger: testLogger(t)}); err == nil {
		n.Close()
		t.Fatal("a node without the password connected")
	}
	n, err = Open(ctx, Config{Dir: t.TempDir(), URL: "nats://lambada:s3cret@" + addr, Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("with a user and password: %v", err)
	}
	n.Close()
}

// A node that ran alone brings its store into the cluster it joins: its
// functions, code and queued events are the cluster's, on every node, and
// its old store is kept aside.
func TestCluster_Adopt(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	alone, err := Open(ctx, Config{Dir: dir, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := alone.Functions.PutFunction(ctx, &lambada.Function{Name: "fn", Latest: lambada.NewFunctionConfig()}); err != nil {
		t.Fatal(err)
	}
	f, _ := alone.Functions.Function(ctx, "fn")
	f.Latest.Description = "updated" // a write that expected a revision
	if _, err := alone.Functions.PutFunction(ctx, f); err != nil {
		t.Fatal(err)
	}
	zip := []byte("PK\x05\x06" + string(make([]byte, 18)))
	if err := alone.Code.PutCode(ctx, "k", zip); err != nil {
		t.Fatal(err)
	}
	if err := alone.Events.Enqueue(ctx, &lambada.AsyncEvent{RequestID: "queued", Function: "fn", Payload: []byte(`{}`), Accepted: time.Now()}); err != nil {
		t.Fatal(err)
	}
	alone.Close()

	nodes := MustOpenCluster(t, 3, dir)
	for i, n := range nodes {
		poll.Until(t, 30*time.Second, fmt.Sprintf("node %d sees the function and its code", i), func() bool {
			f, err := n.Functions.Function(ctx, "fn")
			got, cerr := n.Code.Code(ctx, "k")
			return err == nil && f.Latest.Description == "updated" && cerr == nil && string(got) == string(zip)
		})
	}
	got := make(chan string, 1)
	consume, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- nodes[1].Events.Consume(consume, func(q lambada.QueuedEvent) {
			select {
			case got <- q.Event().RequestID:
			default:
			}
		})
	}()
	select {
	case id := <-got:
		if id != "queued" {
			t.Errorf("the cluster's queue delivered %q", id)
		}
	case <-time.After(20 * time.Second):
		t.Error("the queued event did not come along")
	}
	stop()
	<-done
	if _, err := os.Stat(filepath.Join(dir, "nats-standalone-adopted")); err != nil {
		t.Errorf("the old store is not kept aside: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "nats-standalone")); !os.IsNotExist(err) {
		t.Errorf("the old store is still pending: %v", err)
	}
}
