package main

import (
	"bytes"
	"context"
	"os"
	"os/signal"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lambada-dev/lambada/bench"
)

// selfEnv makes this test binary behave as the lambada binary, so that
// `lambada bench` can re-execute it as `lambada serve`.
const selfEnv = "LAMBADA_TEST_RUN_AS_LAMBADA"

func init() {
	if os.Getenv(selfEnv) != "1" {
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		os.Stderr.WriteString(err.Error() + "\n")
		os.Exit(1)
	}
	os.Exit(0)
}

// mustRunBench runs `lambada bench` with args, its nodes this test binary,
// and returns what it printed on its standard output.
func mustRunBench(t *testing.T, args ...string) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	cmd := &benchCommand{Stdout: &stdout, Stderr: &stderr, Self: []string{exe}, SelfEnv: []string{selfEnv + "=1"}}
	err = cmd.Run(context.Background(), args)
	t.Logf("stdout:\n%s\nstderr:\n%s", &stdout, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	return stdout.String()
}

// TestBench runs `lambada bench` with tiny counts against a node in a child
// process and checks the table, not the speed.
func TestBench(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts a node, a floor server and a burst of functions")
	}
	stdout := mustRunBench(t, "--requests", "20", "--cold", "3", "--burst", "10", "--burst-sleep", "100ms", "--events", "5")
	rows := tableRows(t, stdout)
	var figures []string
	for _, fn := range []string{bench.Realistic, bench.Minimal} {
		for _, f := range []string{"warm p50, c=1", "warm p99, c=1", "throughput, c=1", "throughput, c=8", "throughput, c=64"} {
			figures = append(figures, fn+": "+f)
		}
	}
	for _, figure := range append(figures, "cold start p50", "cold start p99", "burst 10 × sleep 100ms, p50", "burst p99", "burst wall time",
		"events accepted, c=1", "events accepted, c=64", "events accepted, none run, c=1", "events accepted, none run, c=64") {
		row, ok := rows[figure]
		if !ok {
			t.Errorf("no row %q", figure)
			continue
		}
		if v := leadingNumber(row[1]); !(v > 0) {
			t.Errorf("%s: figure %q is not positive", figure, row[1])
		}
		positive := false
		for _, f := range strings.Fields(row[2]) {
			positive = positive || leadingNumber(f) > 0
		}
		if !positive && row[2] != "alone bound n/a" {
			t.Errorf("%s: floor %q is not positive", figure, row[2])
		}
		// The function alone's CPU time has a 10 ms resolution: with so few
		// requests its bound may be unknown.
		if !strings.HasSuffix(row[3], "×") && !strings.Contains(row[3], "× (") && !strings.HasPrefix(row[2], "alone bound ") {
			t.Errorf("%s: ratio %q", figure, row[3])
		}
	}
	if row, ok := rows["burst p99"]; !ok || !strings.HasPrefix(row[2], "bare+sleep ") {
		t.Errorf("the burst's floor is not the bare burst's: %q", row)
	}
	if row := rows[bench.Realistic+": throughput, c=64"]; !strings.HasPrefix(row[2], "alone bound ") {
		t.Errorf("the realistic function's throughput is not beside its alone bound: %q", row)
	}
	for _, figure := range []string{"bare burst: 10 starts to first next, p50", "bare burst p99"} {
		if row, ok := rows[figure]; !ok || !(leadingNumber(row[1]) > 0) {
			t.Errorf("%s: %q", figure, row)
		}
	}
	if row := rows["events accepted, c=64"]; !strings.HasPrefix(row[2], "publish ") {
		t.Errorf("accepted events are not beside JetStream's publishes: %q", row)
	}
	for _, figure := range []string{"enqueue to start p50, idle node", "enqueue to start p99"} {
		if row, ok := rows[figure]; !ok || !(leadingNumber(row[1]) > 0) {
			t.Errorf("%s: %q", figure, row)
		}
	}
	for _, figure := range []string{bench.Realistic + ": warm errors", bench.Minimal + ": warm errors", "floor errors", "cold errors", "burst errors", "bare burst errors",
		"events accepted: errors", "enqueue to start: errors"} {
		if row, ok := rows[figure]; !ok || !strings.HasPrefix(row[1], "0 of ") {
			t.Errorf("%s: %q, want no errors", figure, row)
		}
	}
	for _, fn := range []string{bench.Realistic, bench.Minimal} {
		// The CPU time has a 10 ms resolution: with so few requests it may be 0.
		if row, ok := rows[fn+": node CPU per invocation, c=64"]; !ok || leadingNumber(row[1]) < 0 || !strings.HasPrefix(row[2], "floor server ") {
			t.Errorf("%s node CPU row: %q", fn, row)
		}
		if row, ok := rows[fn+": environments alive, c=64"]; !ok || !(leadingNumber(row[1]) >= 1) {
			t.Errorf("%s environments row: %q", fn, row)
		}
		if row, ok := rows[fn+": function CPU per invocation"]; !ok || leadingNumber(row[1]) < 0 || !strings.HasPrefix(row[2], "alone ") {
			t.Errorf("%s function CPU row: %q", fn, row)
		}
		if row, ok := rows[fn+": alone, event → response p50"]; !ok || !(leadingNumber(row[1]) > 0) {
			t.Errorf("%s alone latency row: %q", fn, row)
		}
		if row, ok := rows[fn+": alone, CPU per invocation"]; !ok || leadingNumber(row[1]) < 0 || !strings.HasPrefix(row[2], "at most ") {
			t.Errorf("%s alone CPU row: %q", fn, row)
		}
	}
	// The --auth section: two more nodes, the same signed invocations.
	for _, figure := range []string{"--auth: signed warm p50, c=1", "--auth: signed throughput, c=64"} {
		if row, ok := rows[figure]; !ok || !(leadingNumber(row[1]) > 0) || !strings.HasPrefix(row[2], "off ") {
			t.Errorf("%s: %q", figure, row)
		}
	}
	if row, ok := rows["--auth: signed errors"]; !ok || !strings.HasPrefix(row[1], "0 of ") || leadingNumber(strings.TrimPrefix(row[1], "0 of ")) < 20 {
		t.Errorf("--auth: signed errors: %q", row)
	}
	if row, ok := rows["--auth: bad signatures refused"]; !ok || row[2] != "0 answered otherwise" {
		t.Errorf("--auth: bad signatures: %q", row)
	}
	for _, figure := range []string{bench.Minimal + ": warm p50, c=1", bench.Minimal + ": throughput, c=64",
		"--auth: node CPU per invocation, c=64", "--auth: signed throughput under 1000 bad/s, c=8",
		bench.Minimal + ": node CPU per invocation, c=64", bench.Realistic + ": environments alive, c=64", "cold start p50", "burst p99",
		"events accepted, c=1", "events accepted, none run, c=64", "enqueue to start p50, idle node"} {
		if m := rows[figure][5]; m != string(bench.Pass) && m != string(bench.Fail) {
			t.Errorf("%s: mark %q, want pass or FAIL", figure, m)
		}
	}
}

func TestBench_Flags(t *testing.T) {
	for _, args := range [][]string{
		{"--endpoint-url", "http://example.com:9001"},
		{"--endpoint-url", "http://127.0.0.1:9001", "--in-process"},
		{"--server-pid", "1"},
		{"--endpoint-url", "http://127.0.0.1:9001,http://example.com:9002"},
		{"--endpoint-url", "http://127.0.0.1:9001,http://127.0.0.1:9002", "--server-pid", "1"},
		{"--endpoint-url", "http://127.0.0.1:9001,http://127.0.0.1:9002", "--cluster", "2"},
		{"--duration", "0"},
		{"--burst", "-1"},
		{"extra"},
	} {
		var stderr bytes.Buffer
		if err := (&benchCommand{Stdout: &stderr, Stderr: &stderr}).Run(context.Background(), args); err == nil {
			t.Errorf("%q: no error", args)
		}
	}
	cfg, err := (&benchCommand{Stderr: &bytes.Buffer{}}).parse([]string{"--endpoint-url", "http://127.0.0.1:9001/", "--burst", "0"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.EndpointURL != "http://127.0.0.1:9001" || !cfg.SkipBurst || cfg.Duration != 2*time.Second {
		t.Errorf("parsed %+v", cfg)
	}
	cfg, err = (&benchCommand{Stderr: &bytes.Buffer{}}).parse([]string{"--endpoint-url", "http://127.0.0.1:9001,http://127.0.0.1:9002/", "--server-pid", "10,20"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.EndpointURL != "http://127.0.0.1:9001" || !slices.Equal(cfg.Others, []string{"http://127.0.0.1:9002"}) || cfg.ServerPid != 10 || !slices.Equal(cfg.OtherPids, []int{20}) {
		t.Errorf("several endpoints: parsed %+v", cfg)
	}
}

// TestBench_Endpoints runs `lambada bench` against the two nodes of a
// cluster already running (--endpoint-url with both): through the first,
// round-robin, and the extra hop, without a node alone.
func TestBench_Endpoints(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts two nodes")
	}
	nodes := mustOpenCluster(t, 2)
	out := mustRunBench(t, "--requests", "20", "--skip-cold", "--skip-burst", "--skip-async", "--skip-auth",
		"--endpoint-url", "http://"+nodes[0].Addr()+",http://"+nodes[1].Addr())
	for _, way := range []string{"2 nodes, all through one", "2 nodes, round-robin"} {
		if !regexp.MustCompile(`\n` + way + ` +[0-9]+/s +[0-9.]+[µm]?s +[0-9]+/s +no --server-pid +[0-9.]+× +0 of [0-9]+\n`).MatchString(out) {
			t.Errorf("no row %q without errors in:\n%s", way, out)
		}
	}
	if strings.Contains(out, "one node alone") {
		t.Errorf("a node alone measured:\n%s", out)
	}
	if !strings.Contains(out, "extra hop to another node's warm environment, p50 at c=1, 20 of each in turn (errors 0)") {
		t.Errorf("no extra hop figure in:\n%s", out)
	}
}

// tableRows splits the table printed by lambada bench into its cells, by
// figure.
func tableRows(t *testing.T, out string) map[string][]string {
	t.Helper()
	rows := map[string][]string{}
	for _, line := range strings.Split(out, "\n") {
		cells := strings.Split(line+" ", " | ") // a row without a mark ends in "|"
		if len(cells) != 6 {
			continue
		}
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		rows[cells[0]] = cells
	}
	if _, ok := rows["figure"]; !ok {
		t.Fatalf("no table in:\n%s", out)
	}
	return rows
}

var number = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?`)

// leadingNumber is the number a cell starts with, or -1.
func leadingNumber(cell string) float64 {
	v, err := strconv.ParseFloat(number.FindString(cell), 64)
	if err != nil {
		return -1
	}
	return v
}

// TestBench_Cluster runs `lambada bench --cluster 3` with tiny counts and
// checks its table: every way measured, without errors, and the extra
// hop's figure beside its target.
func TestBench_Cluster(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts four nodes")
	}
	out := mustRunBench(t, "--requests", "30", "--skip-cold", "--skip-burst", "--skip-async", "--skip-auth", "--cluster", "3")
	for _, way := range []string{"one node alone", "3 nodes, all through one", "3 nodes, round-robin"} {
		i := strings.Index(out, "\n"+way+" ")
		if i < 0 {
			t.Errorf("no row %q", way)
			continue
		}
		fields := strings.Fields(strings.TrimPrefix(strings.SplitN(out[i+1:], "\n", 2)[0], way))
		if len(fields) < 4 || !(leadingNumber(fields[0]) > 0) {
			t.Errorf("%s: %q", way, fields)
		}
		if n := len(fields); n < 3 || fields[n-3] != "0" || fields[n-2] != "of" {
			t.Errorf("%s: errors in %q", way, fields)
		}
	}
	if !regexp.MustCompile(`extra hop to another node's warm environment, p50 at c=1, 30 of each in turn \(errors 0\): through node 0 [0-9.]+[µm]?s, through node 1 [0-9.]+[µm]?s: -?[0-9.]+[µm]?s \(target ≤ a loopback round trip [0-9.]+[µm]?s \+ 100 µs = [0-9.]+[µm]?s: (met|MISSED)\)`).MatchString(out) {
		t.Errorf("no extra hop figure in:\n%s", out)
	}
}
