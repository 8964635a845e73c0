package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/lambada-dev/lambada/internal/poll"
	"github.com/lambada-dev/lambada/internal/testfn"
)

// nsNet is a network the test makes for nodes in network namespaces of
// their own: each is joined by one veth pair to the cluster's bridge, where
// the nodes' stores talk to each other, and by another to the host's
// bridge, where the test calls their APIs and their functions reach the
// test's marks. Cutting a node off takes its cluster link down: its peers
// lose it, the test does not.
type nsNet struct {
	t      *testing.T
	prefix string // of every name it makes
	subnet string // 10.x.y: the cluster's bridge, node i is .i
	host   string // 10.x.y+1: the host's bridge, .254; node i's API is .i
}

// mustNetns makes a network of n namespaces, removed when the test ends;
// it skips the test where namespaces cannot be made.
func mustNetns(t *testing.T, n int) *nsNet {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("network namespaces need root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("no ip command (iproute2)")
	}
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	x, _ := rand.Int(rand.Reader, big.NewInt(100))
	y, _ := rand.Int(rand.Reader, big.NewInt(120))
	nw := &nsNet{t: t, prefix: "lb" + hex.EncodeToString(b), subnet: fmt.Sprintf("10.%d.%d", 100+x.Int64(), 2*y.Int64()+1),
		host: fmt.Sprintf("10.%d.%d", 100+x.Int64(), 2*y.Int64()+2)}
	var steps [][]string
	for _, br := range []struct{ name, addr string }{{nw.prefix + "cb", nw.subnet + ".254/24"}, {nw.prefix + "hb", nw.host + ".254/24"}} {
		if err := nw.run("link", "add", br.name, "type", "bridge"); err != nil {
			t.Skipf("cannot make a bridge here: %v", err)
		}
		t.Cleanup(func() { _ = nw.run("link", "del", br.name) })
		steps = append(steps, []string{"addr", "add", br.addr, "dev", br.name}, []string{"link", "set", br.name, "up"})
	}
	for i := 1; i <= n; i++ {
		ns := nw.ns(i)
		t.Cleanup(func() { _ = nw.run("netns", "del", ns) })
		steps = append(steps, []string{"netns", "add", ns}, []string{"-n", ns, "link", "set", "lo", "up"})
		for _, l := range []struct{ side, br, addr string }{{"c", "cb", nw.subnet}, {"h", "hb", nw.host}} {
			host, peer := fmt.Sprintf("%s%sh%d", nw.prefix, l.side, i), fmt.Sprintf("%s%sn%d", nw.prefix, l.side, i)
			steps = append(steps,
				[]string{"link", "add", host, "type", "veth", "peer", "name", peer},
				[]string{"link", "set", peer, "netns", ns},
				[]string{"link", "set", host, "master", nw.prefix + l.br, "up"},
				[]string{"-n", ns, "addr", "add", fmt.Sprintf("%s.%d/24", l.addr, i), "dev", peer},
				[]string{"-n", ns, "link", "set", peer, "up"})
		}
	}
	for _, s := range steps {
		if err := nw.run(s...); err != nil {
			if s[0] == "netns" {
				t.Skipf("cannot make network namespaces here: %v", err)
			}
			t.Fatal(err)
		}
	}
	return nw
}

func (nw *nsNet) ns(i int) string          { return fmt.Sprintf("%sn%d", nw.prefix, i) }
func (nw *nsNet) clusterAddr(i int) string { return fmt.Sprintf("%s.%d", nw.subnet, i) }
func (nw *nsNet) apiAddr(i int) string     { return fmt.Sprintf("%s.%d", nw.host, i) }

func (nw *nsNet) run(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return nil
}

// cut takes node i off the cluster's network (off) or puts it back.
func (nw *nsNet) cut(i int, off bool) {
	state := "up"
	if off {
		state = "down"
	}
	if err := nw.run("link", "set", fmt.Sprintf("%sch%d", nw.prefix, i), state); err != nil {
		nw.t.Fatal(err)
	}
}

// nsNode is `lambada serve`, from this test binary, in a namespace of its
// own.
type nsNode struct {
	i      int
	url    string
	cmd    *exec.Cmd
	exited chan error
	client *lambda.Client
}

// startNSNode starts node i of nw, clustered with the others, its data in
// dir; it returns before the node is ready (nodes wait for a quorum).
func startNSNode(t *testing.T, nw *nsNet, i, n int, dir string, args ...string) *nsNode {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	var peers []string
	for j := 1; j <= n; j++ {
		if j != i {
			peers = append(peers, nw.clusterAddr(j)+":6222")
		}
	}
	first, last := spareUIDs()
	args = append([]string{"netns", "exec", nw.ns(i), exe, "serve", "--listen", nw.apiAddr(i) + ":9000", "--data", filepath.Join(dir, "data"),
		"--env-uids", fmt.Sprintf("%d-%d", first, last), "--cluster-listen", nw.clusterAddr(i) + ":6222", "--peers", strings.Join(peers, ","),
		"--node-name", fmt.Sprintf("node%d", i)}, args...)
	logf, err := os.OpenFile(filepath.Join(dir, "serve.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command("ip", args...)
	cmd.Env = append(os.Environ(), selfEnv+"=1")
	cmd.Stdout, cmd.Stderr = logf, logf
	exited, err := startPinned(cmd, syscall.SIGKILL)
	if err != nil {
		t.Fatal(err)
	}
	node := &nsNode{i: i, url: "http://" + nw.apiAddr(i) + ":9000", cmd: cmd, exited: exited}
	t.Cleanup(func() {
		node.stop()
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("node %d's log:\n%s", i, tail(b, 3000))
		}
	})
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	node.client = lambda.New(lambda.Options{Region: "us-east-1", BaseEndpoint: aws.String(node.url), HTTPClient: hc,
		Credentials: credentials.NewStaticCredentialsProvider("x", "x", ""), RetryMaxAttempts: 1})
	return node
}

// stop ends the node (SIGTERM, then SIGKILL) and waits for it.
func (n *nsNode) stop() {
	if n.cmd.ProcessState != nil {
		return
	}
	_ = n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.exited:
	case <-time.After(15 * time.Second):
		_ = n.cmd.Process.Kill()
		<-n.exited
	}
}

// kill ends the node with SIGKILL and waits for it.
func (n *nsNode) kill() {
	_ = n.cmd.Process.Kill()
	<-n.exited
}

// metric reads a gauge of the node's /metrics (-1: not there).
func (n *nsNode) metric(name string) float64 {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(n.url + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), name+" "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return -1
}

func (n *nsNode) waitReady(t *testing.T) {
	t.Helper()
	poll.Until(t, 90*time.Second, fmt.Sprintf("node %d answers", n.i), func() bool {
		select {
		case err := <-n.exited:
			n.exited <- err
			t.Fatalf("node %d exited: %v", n.i, err)
		default:
		}
		return n.metric("lambada_cluster_nodes") > 0
	})
}

// outcome is one synchronous call's: when, through which node, and how it
// ended ("200", "throttled" or the error).
type outcome struct {
	at   time.Time
	node int
	what string
}

// Three nodes in network namespaces of their own, under synchronous and
// asynchronous load through all three: one is killed with SIGKILL (and
// started again), then another is cut off the network (and put back). No
// accepted event is lost, the survivors keep answering, the functions
// never run more at once than the account's limit, and the survivors take
// a lost node's share over within its heartbeat timeout.
func TestCluster_Failures(t *testing.T) {
	if testing.Short() {
		t.Skip("three nodes in network namespaces")
	}
	t.Parallel()
	const nodesN, limit, timeout = 3, 6, 3 * time.Second
	nw := mustNetns(t, nodesN)
	marks := startMarks(t, nw.host+".254")
	spans := filepath.Join(t.TempDir(), "spans")
	dirs := make([]string, nodesN+1)
	nodes := make([]*nsNode, nodesN+1)
	var mu sync.Mutex // guards nodes (node 3 restarts under load), outcomes and accepted
	start := func(i int) {
		n := startNSNode(t, nw, i, nodesN, dirs[i], "--concurrency", strconv.Itoa(limit), "--async-time-scale", "0.01",
			"--heartbeat-timeout", timeout.String())
		mu.Lock()
		nodes[i] = n
		mu.Unlock()
	}
	node := func(i int) *nsNode {
		mu.Lock()
		defer mu.Unlock()
		return nodes[i]
	}
	for i := 1; i <= nodesN; i++ {
		dirs[i] = t.TempDir()
		start(i)
	}
	for i := 1; i <= nodesN; i++ {
		nodes[i].waitReady(t)
	}
	ctx := context.Background()
	c1 := nodes[1].client
	if _, err := c1.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String("span"), Runtime: types.RuntimeProvidedal2023,
		Handler: aws.String("bootstrap"), Role: aws.String("arn:aws:iam::123456789012:role/any"), Code: &types.FunctionCode{ZipFile: fnZip},
		Timeout: aws.Int32(10), Environment: &types.Environment{Variables: map[string]string{testfn.MarksEnv: marks}}}); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= nodesN; i++ {
		MustSettle(t, nodes[i].client, "span")
	}
	payload := []byte(fmt.Sprintf(`{"action":"span","mark":%q,"ms":100}`, spans))

	// The load: two synchronous callers (the limit's worth together) and
	// one of events per node, until stopped.
	var outcomes []outcome
	var accepted []string
	load, stopLoad := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for i := 1; i <= nodesN; i++ {
		for range 2 {
			wg.Go(func() {
				for load.Err() == nil {
					cl := node(i).client // replaced when the node restarts
					_, err := cl.Invoke(load, &lambda.InvokeInput{FunctionName: aws.String("span"), Payload: payload})
					what := "200"
					if err != nil {
						what = apiErrorCode(err)
						if what == "TooManyRequestsException" {
							what = "throttled"
						} else if what == "" {
							what = err.Error()
						}
					}
					mu.Lock()
					outcomes = append(outcomes, outcome{time.Now(), i, what})
					mu.Unlock()
					if err != nil && what != "throttled" {
						select { // a node that is down: do not spin
						case <-load.Done():
						case <-time.After(50 * time.Millisecond):
						}
					}
				}
			})
		}
		wg.Go(func() {
			tick := time.NewTicker(80 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-load.Done():
					return
				case <-tick.C:
				}
				out, err := node(i).client.Invoke(load, &lambda.InvokeInput{FunctionName: aws.String("span"), InvocationType: types.InvocationTypeEvent, Payload: payload})
				if err == nil {
					id, _ := awsmiddleware.GetRequestIDMetadata(out.ResultMetadata)
					mu.Lock()
					accepted = append(accepted, id)
					mu.Unlock()
				}
			}
		})
	}
	settle := func() { // let the load run a while: until 60 more calls ended
		mu.Lock()
		n := len(outcomes)
		mu.Unlock()
		poll.Until(t, 60*time.Second, "60 more calls", func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(outcomes) >= n+60
		})
	}
	seen := func(by, want int) func() bool {
		return func() bool { return node(by).metric("lambada_cluster_nodes") == float64(want) }
	}
	settle()
	began := time.Now()
	phase := func(what string) {
		t.Logf("%6.1fs (%s) %s", time.Since(began).Seconds(), time.Now().Format(time.StampMilli), what)
	}

	// 1. Node 3 is killed.
	killed := time.Now()
	nodes[3].kill()
	poll.Until(t, timeout+5*time.Second, "node 1 sees node 3 gone", seen(1, 2))
	killBack := time.Since(killed)
	poll.Until(t, 5*time.Second, "node 2 sees node 3 gone", seen(2, 2))
	settle()
	phase("node 3 killed and gone")
	start(3)
	node(3).waitReady(t)
	phase("node 3 restarted")
	poll.Until(t, 90*time.Second, "node 1 sees node 3 back", seen(1, 3))
	rejoined := time.Now()
	phase("node 3 back")
	settle()

	// 2. Node 2 is cut off the network.
	cut := time.Now()
	nw.cut(2, true)
	poll.Until(t, timeout+5*time.Second, "node 1 sees node 2 gone", seen(1, 2))
	cutBack := time.Since(cut)
	poll.Until(t, 5*time.Second, "node 3 sees node 2 gone", seen(3, 2))
	settle()
	phase("node 2 cut off and gone")
	nw.cut(2, false)
	poll.Until(t, 90*time.Second, "node 1 sees node 2 back", seen(1, 3))
	healed := time.Now()
	phase("node 2 back")
	settle()
	stopLoad()
	wg.Wait()

	phase("load stopped")
	// Every accepted event ran at least once.
	mu.Lock()
	ids := slices.Clone(accepted)
	mu.Unlock()
	var missing []string
	poll.Wait(3*time.Minute, func() bool {
		ended := map[string]bool{}
		for _, s := range readSpans(t, spans) {
			if !s.end.IsZero() {
				ended[s.id] = true
			}
		}
		missing = missing[:0]
		for _, id := range ids {
			if !ended[id] {
				missing = append(missing, id)
			}
		}
		return len(missing) == 0
	})
	if len(missing) > 0 {
		t.Errorf("%d of %d accepted events never ran, e.g. %v", len(missing), len(ids), missing[:min(5, len(missing))])
	}

	phase("every event seen")
	// The functions never ran more at once than the limit.
	all := readSpans(t, spans)
	most, at := maxOverlap(all, 100*time.Millisecond)
	if most > limit {
		t.Errorf("%d executions at once at %s, over the limit of %d", most, at.Format(time.StampMicro), limit)
		for _, s := range all {
			if s.end.IsZero() {
				s.end = s.start.Add(200 * time.Millisecond) // as maxOverlap counts it
			}
			if !s.start.After(at) && s.end.After(at) {
				t.Logf("running then: %s from %s to %s on %s", s.id, s.start.Format(time.StampMicro), s.end.Format(time.StampMicro), s.where)
			}
		}
	}

	// The survivors kept answering.
	report := func(name string, from, to time.Time, survivors ...int) {
		ok, throttled, failed := 0, 0, 0
		var firstOK, lastOK time.Time
		var gap time.Duration // the longest stretch without an answer
		for _, o := range outcomes {
			if o.at.Before(from) || o.at.After(to) || !slices.Contains(survivors, o.node) {
				continue
			}
			switch o.what {
			case "200":
				ok++
				if firstOK.IsZero() {
					firstOK = o.at
				}
				if !lastOK.IsZero() {
					gap = max(gap, o.at.Sub(lastOK))
				}
				lastOK = o.at
			case "throttled":
				throttled++
			default:
				failed++
			}
		}
		total := ok + throttled + failed
		t.Logf("%s: through nodes %v, %d calls: %d answered, %d throttled, %d failed (%.1f%%); first answer %v after it, at most %v between answers", name, survivors, total, ok, throttled, failed,
			100*float64(failed)/float64(max(total, 1)), firstOK.Sub(from).Round(time.Millisecond), gap.Round(time.Millisecond))
		if ok == 0 {
			t.Errorf("%s: no call through nodes %v succeeded", name, survivors)
		}
	}
	// The node cut off admitted nothing once its lease lapsed: at most half
	// a timeout after the cut (and a second for calls in flight).
	lapsed := cut.Add(timeout/2 + time.Second)
	cutOff := map[string]int{}
	for _, o := range outcomes {
		if o.node == 2 && o.at.After(lapsed) && o.at.Before(healed) {
			cutOff[o.what]++
		}
	}
	t.Logf("node 2 cut off, from half a timeout after the cut: %v", cutOff)
	if cutOff["200"] > 0 {
		t.Errorf("node 2 ran %d invocations while cut off, after its lease lapsed", cutOff["200"])
	}
	report("node 3 killed", killed, rejoined, 1, 2)
	report("node 2 cut off", cut, healed, 1, 3)
	t.Logf("the survivors took the lost node's share over %v after the kill and %v after the cut (heartbeat timeout %v)",
		killBack.Round(time.Millisecond), cutBack.Round(time.Millisecond), timeout)
	t.Logf("%d events accepted, every one ran; %d spans, at most %d at once (limit %d)", len(ids), len(all), most, limit)
}

// startMarks serves the test's marks on host (an address of the bridge),
// for functions in the nodes' namespaces.
func startMarks(t *testing.T, host string) string {
	t.Helper()
	ln, err := net.Listen("tcp", host+":0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: testfn.MarksHandler}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

// span is one execution as the function saw it: the end is zero when it
// did not say (its node died first).
type span struct {
	id         string
	start, end time.Time
	where      string // the environment's Runtime API: which node
}

func readSpans(t *testing.T, path string) []span {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	byID := map[string]*span{}
	var order []*span
	for line := range strings.Lines(string(b)) {
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		ns, _ := strconv.ParseInt(f[2], 10, 64)
		// An id runs more than once when redelivered: key by id and start.
		switch f[0] {
		case "S":
			s := &span{id: f[1], start: time.Unix(0, ns), where: strings.Join(f[3:], " ")}
			byID[f[1]] = s
			order = append(order, s)
		case "E":
			if s := byID[f[1]]; s != nil && s.end.IsZero() {
				s.end = time.Unix(0, ns)
			}
		}
	}
	out := make([]span, len(order))
	for i, s := range order {
		out[i] = *s
	}
	return out
}

// maxOverlap returns the most spans running at one instant, and when; a
// span with no end is counted for twice its planned duration d.
func maxOverlap(spans []span, d time.Duration) (int, time.Time) {
	type edge struct {
		at    time.Time
		delta int
	}
	var edges []edge
	for _, s := range spans {
		end := s.end
		if end.IsZero() {
			end = s.start.Add(2 * d)
		}
		edges = append(edges, edge{s.start, 1}, edge{end, -1})
	}
	slices.SortFunc(edges, func(a, b edge) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		return a.delta - b.delta // an end before a start at the same instant
	})
	most, cur := 0, 0
	var at time.Time
	for _, e := range edges {
		cur += e.delta
		if cur > most {
			most, at = cur, e.at
		}
	}
	return most, at
}
