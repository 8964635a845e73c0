package invoke

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/lambada-dev/lambada"
	"github.com/lambada-dev/lambada/inmem"
)

// runner records what it was asked to run.
type runner struct {
	cfg *lambada.SandboxConfig
	inv *lambada.Invocation
}

func (r *runner) Run(_ context.Context, cfg *lambada.SandboxConfig, inv *lambada.Invocation) (*lambada.Result, error) {
	r.cfg, r.inv = cfg, inv
	return &lambada.Result{Payload: inv.Payload, ExecutedVersion: cfg.Version}, nil
}

type codeDirs struct{}

func (codeDirs) Path(_ context.Context, key string) (string, error) { return "/code/" + key, nil }

func (codeDirs) Opt(_ context.Context, keys []string) (string, error) {
	return "/opt/" + strings.Join(keys, "+"), nil
}

func config(version, sha string, modified time.Time) lambada.FunctionConfig {
	return lambada.FunctionConfig{Version: version, Runtime: "provided.al2023", Handler: "bootstrap", Timeout: 3, MemorySize: 128,
		CodeSha256: sha, LastModified: modified}
}

func newService(t *testing.T, pick float64) (*Service, *runner) {
	t.Helper()
	store := &inmem.Store{}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f := &lambada.Function{
		Name:        "fn",
		Latest:      config("$LATEST", "bGF0ZXN0", t0.Add(3*time.Hour)),
		Versions:    []lambada.FunctionConfig{config("1", "b25l", t0), config("2", "dHdv", t0.Add(time.Hour))},
		LastVersion: 2,
		Aliases: []lambada.Alias{
			{Name: "live", FunctionVersion: "1", Routing: lambada.Routing{"2": 0.25}},
			{Name: "edge", FunctionVersion: "$LATEST"},
		},
	}
	if _, err := store.PutFunction(context.Background(), f); err != nil {
		t.Fatal(err)
	}
	r := &runner{}
	return &Service{Functions: store, Code: codeDirs{}, Sandboxes: r, Region: "us-east-1", Account: "000000000000",
		Rand: func() float64 { return pick }}, r
}

func TestService_Resolve(t *testing.T) {
	arn := "arn:aws:lambda:us-east-1:000000000000:function:fn"
	for _, tc := range []struct {
		qualifier  string
		pick       float64
		version    string
		invokedARN string
	}{
		{"", 0.5, "$LATEST", arn},
		{"$LATEST", 0.5, "$LATEST", arn + ":$LATEST"},
		{"1", 0.5, "1", arn + ":1"},
		{"2", 0.0, "2", arn + ":2"},
		{"live", 0.10, "2", arn + ":live"}, // under the weight: the additional version
		{"live", 0.25, "1", arn + ":live"}, // at the weight: the alias's version
		{"live", 0.99, "1", arn + ":live"},
		{"edge", 0.5, "$LATEST", arn + ":edge"},
	} {
		s, r := newService(t, tc.pick)
		res, err := s.Invoke(context.Background(), lambada.FunctionRef{Name: "fn", Qualifier: tc.qualifier},
			&lambada.Invocation{RequestID: "id", Type: lambada.RequestResponse, Payload: []byte(`{"a":1}`)})
		if err != nil {
			t.Fatalf("%q: %v", tc.qualifier, err)
		}
		if r.cfg.Version != tc.version || res.ExecutedVersion != tc.version || r.inv.InvokedARN != tc.invokedARN {
			t.Errorf("%q at %.2f: ran %s (executed %s) as %s; want %s as %s", tc.qualifier, tc.pick, r.cfg.Version, res.ExecutedVersion, r.inv.InvokedARN, tc.version, tc.invokedARN)
		}
		want := map[string]string{"$LATEST": "/code/6c6174657374", "1": "/code/6f6e65", "2": "/code/74776f"}[tc.version]
		if r.cfg.CodeDir != want || r.cfg.Timeout != 3*time.Second || r.cfg.Function != "fn" || r.cfg.Region != "us-east-1" {
			t.Errorf("%q: sandbox config %+v", tc.qualifier, r.cfg)
		}
	}
}

func TestService_Errors(t *testing.T) {
	s, r := newService(t, 0.5)
	for _, tc := range []struct {
		ref  lambada.FunctionRef
		code string
		msg  string
	}{
		{lambada.FunctionRef{Name: "nope"}, lambada.ENOTFOUND, "Function not found: arn:aws:lambda:us-east-1:000000000000:function:nope:$LATEST"},
		{lambada.FunctionRef{Name: "nope", Qualifier: "1"}, lambada.ENOTFOUND, "Function not found: arn:aws:lambda:us-east-1:000000000000:function:nope:1"},
		{lambada.FunctionRef{Name: "fn", Qualifier: "10"}, lambada.ENOTFOUND, "Function not found: arn:aws:lambda:us-east-1:000000000000:function:fn:10"},
		{lambada.FunctionRef{Name: "fn", Qualifier: "non-existent-alias"}, lambada.ENOTFOUND, "Function not found: arn:aws:lambda:us-east-1:000000000000:function:fn:non-existent-alias"},
		{lambada.FunctionRef{Name: "fn", Qualifier: "$latest"}, lambada.ENOTFOUND, "Function not found: arn:aws:lambda:us-east-1:000000000000:function:fn:$latest"},
	} {
		_, err := s.Invoke(context.Background(), tc.ref, &lambada.Invocation{Type: lambada.RequestResponse})
		if lambada.ErrorCode(err) != tc.code || lambada.ErrorMessage(err) != tc.msg {
			t.Errorf("%+v: got %v; want %s", tc.ref, err, tc.msg)
		}
	}
	_, err := s.Invoke(context.Background(), lambada.FunctionRef{Name: "fn"}, &lambada.Invocation{Type: lambada.RequestResponse, Payload: []byte("{")})
	if lambada.ErrorCode(err) != lambada.ECONTENT {
		t.Errorf("bad payload: %v", err)
	}
	if r.cfg != nil {
		t.Errorf("a failed invocation ran")
	}
	// DryRun resolves and checks, and runs nothing.
	res, err := s.Invoke(context.Background(), lambada.FunctionRef{Name: "fn", Qualifier: "1"}, &lambada.Invocation{Type: lambada.DryRun})
	if err != nil || res == nil || r.cfg != nil {
		t.Errorf("DryRun: %v, ran %v", err, r.cfg)
	}
	// An empty payload reaches the function as {}.
	if _, err := s.Invoke(context.Background(), lambada.FunctionRef{Name: "fn"}, &lambada.Invocation{Type: lambada.RequestResponse}); err != nil || string(r.inv.Payload) != "{}" {
		t.Errorf("empty payload: %v %q", err, r.inv.Payload)
	}
}

// TestService_States: a Pending or Failed configuration is refused with
// AWS's 409 (after the payload check, before DryRun); while an update of
// $LATEST is prepared, invocations run the configuration it replaced.
func TestService_States(t *testing.T) {
	s, r := newService(t, 0)
	ctx := context.Background()
	f, _ := s.Functions.Function(ctx, "fn")
	c := f.Clone()
	c.Versions[0].Status = lambada.Creating()
	c.Versions[1].Status = lambada.Creating().Prepared(lambada.FailureInvalidZip)
	c.StartUpdate()
	c.Latest.CodeSha256 = "bmV3"
	if _, err := s.Functions.(*inmem.Store).PutFunction(ctx, c); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		qualifier string
		typ       lambada.InvocationType
		payload   string
		code, msg string
	}{
		{"1", lambada.RequestResponse, "{}", lambada.ECONFLICT, "The operation cannot be performed at this time. The function is currently in the following state: Pending"},
		{"1", lambada.DryRun, "{}", lambada.ECONFLICT, "The operation cannot be performed at this time. The function is currently in the following state: Pending"},
		{"2", lambada.RequestResponse, "{}", lambada.ECONFLICT, "The operation cannot be performed at this time. The function is currently in the following state: Failed"},
		// pick 0 routes the alias to its additional version, 2.
		{"live", lambada.RequestResponse, "{}", lambada.ECONFLICT, "The operation cannot be performed at this time. The function is currently in the following state: Failed"},
		// The payload is checked first.
		{"1", lambada.RequestResponse, "not json", lambada.ECONTENT, ""},
	} {
		_, err := s.Invoke(ctx, lambada.FunctionRef{Name: "fn", Qualifier: tc.qualifier}, &lambada.Invocation{Type: tc.typ, Payload: []byte(tc.payload)})
		if lambada.ErrorCode(err) != tc.code || (tc.msg != "" && lambada.ErrorMessage(err) != tc.msg) {
			t.Errorf("%s %v: %v, want %s %q", tc.qualifier, tc.typ, err, tc.code, tc.msg)
		}
	}
	// $LATEST runs the configuration it had before the update.
	if _, err := s.Invoke(ctx, lambada.FunctionRef{Name: "fn"}, &lambada.Invocation{Type: lambada.RequestResponse, Payload: []byte("{}")}); err != nil {
		t.Fatal(err)
	}
	if r.cfg.CodeDir != "/code/"+lambada.CodeKey("bGF0ZXN0") {
		t.Fatalf("during the update $LATEST ran %s", r.cfg.CodeDir)
	}
}

// Another node's invocation runs here only on a configuration at least as
// new as the one it resolved, and is admitted against this node's limits.
func TestService_RunHere(t *testing.T) {
	s, r := newService(t, 0)
	fn, _ := s.Functions.Function(context.Background(), "fn")
	latest := fn.RunningLatest()
	ctx := context.Background()
	run := func(target lambada.RunTarget) (bool, error) {
		admitted := false
		_, err := s.RunHere(ctx, target, &lambada.Invocation{RequestID: "r", Payload: []byte(`{}`)}, func() { admitted = true })
		return admitted, err
	}
	if ok, err := run(lambada.RunTarget{Key: "fn", Version: "$LATEST", Generation: latest.Generation()}); !ok || err != nil || r.cfg.Generation != latest.Generation() {
		t.Errorf("the same configuration: admitted %v, %v", ok, err)
	}
	if ok, err := run(lambada.RunTarget{Key: "fn", Version: "$LATEST", Generation: latest.Generation() + 1}); ok || lambada.ErrorCode(err) != lambada.ECONFLICT {
		t.Errorf("a newer configuration than this node knows: admitted %v, %v", ok, err)
	}
	if ok, err := run(lambada.RunTarget{Key: "fn", Version: "1", Qualifier: "live", Generation: 1}); !ok || err != nil || r.cfg.Version != "1" {
		t.Errorf("version 1: admitted %v, %v", ok, err)
	}
	if _, err := run(lambada.RunTarget{Key: "fn", Version: "7"}); lambada.ErrorCode(err) != lambada.ENOTFOUND {
		t.Errorf("a version not known here: %v", err)
	}
	s.Limiter = NewLimiter(1)
	zero := 0
	fn.ReservedConcurrency = &zero
	if _, err := s.Functions.(*inmem.Store).PutFunction(ctx, fn); err != nil {
		t.Fatal(err)
	}
	if ok, err := run(lambada.RunTarget{Key: "fn", Version: "1"}); ok || lambada.ErrorCode(err) != lambada.ETHROTTLED {
		t.Errorf("no share left: admitted %v, %v", ok, err)
	}
}

// peers are fake other nodes: each answers with its result when set.
type peers struct {
	warm, elsewhere *lambada.Result
	asked           []string
}

func (p *peers) Warm(context.Context, lambada.RunTarget, *lambada.Invocation) (*lambada.Result, bool, error) {
	p.asked = append(p.asked, "warm")
	return p.warm, p.warm != nil, nil
}

func (p *peers) Elsewhere(context.Context, lambada.RunTarget, *lambada.Invocation) (*lambada.Result, bool, error) {
	p.asked = append(p.asked, "elsewhere")
	return p.elsewhere, p.elsewhere != nil, nil
}

type warmth bool

func (w warmth) HasIdle(string, string) bool { return bool(w) }

// throttler throttles every invocation, as a node whose memory budget has
// no room for another environment does once it admitted one.
type throttler struct{}

func (throttler) Run(context.Context, *lambada.SandboxConfig, *lambada.Invocation) (*lambada.Result, error) {
	return nil, lambada.Throttled(lambada.ReasonConcurrentLimit)
}

// In a cluster, a node with no idle environment of the version asks the
// nodes with one first; a node that throttles an invocation, for want of a
// share of the limits or of memory, offers it to the others before it
// answers with the throttle.
func TestService_Peers(t *testing.T) {
	s, r := newService(t, 0)
	ctx := context.Background()
	invoke := func() (*lambada.Result, error) {
		r.cfg = nil
		return s.Invoke(ctx, lambada.FunctionRef{Name: "fn", Qualifier: "1"}, &lambada.Invocation{Type: lambada.RequestResponse, Payload: []byte(`{}`)})
	}
	p := &peers{warm: &lambada.Result{Payload: []byte(`"warm elsewhere"`)}}
	s.Peers, s.Warmth = p, warmth(false)
	if res, err := invoke(); err != nil || string(res.Payload) != `"warm elsewhere"` || r.cfg != nil {
		t.Errorf("no idle environment here, one elsewhere: %v %v, ran here: %v", res, err, r.cfg != nil)
	}
	p.warm = nil
	if res, err := invoke(); err != nil || string(res.Payload) != `{}` || r.cfg == nil {
		t.Errorf("no idle environment anywhere: %v %v, ran here: %v", res, err, r.cfg != nil)
	}
	p.asked, s.Warmth = nil, warmth(true)
	if _, err := invoke(); err != nil || r.cfg == nil || len(p.asked) != 0 {
		t.Errorf("an idle environment here: %v, asked %v", err, p.asked)
	}
	s.Sandboxes = throttler{}
	p.elsewhere = &lambada.Result{Payload: []byte(`"run elsewhere"`)}
	if res, err := invoke(); err != nil || string(res.Payload) != `"run elsewhere"` {
		t.Errorf("throttled here, admitted elsewhere: %v %v", res, err)
	}
	p.elsewhere = nil
	if _, err := invoke(); lambada.ErrorCode(err) != lambada.ETHROTTLED {
		t.Errorf("throttled everywhere: %v", err)
	}
}

// fenced is a Sandboxes of a node cut off from its cluster past its
// fence: it runs nothing.
type fenced struct{}

func (fenced) Run(context.Context, *lambada.SandboxConfig, *lambada.Invocation) (*lambada.Result, error) {
	return nil, lambada.Throttled(lambada.ReasonConcurrentLimit)
}

// counts counts the metrics it hears.
type counts map[lambada.Metric]int

func (c counts) Count(m lambada.Metric, _ lambada.MetricLabels)              { c[m]++ }
func (c counts) Observe(lambada.Metric, lambada.MetricLabels, time.Duration) {}

// An invocation admitted but refused by the sandboxes (the node was cut
// off from its cluster meanwhile) is a throttle, not an invocation that
// failed.
func TestService_RefusedByTheSandboxes(t *testing.T) {
	s, _ := newService(t, 0.5)
	s.Sandboxes = fenced{}
	c := counts{}
	s.Meter = c
	_, err := s.Invoke(context.Background(), lambada.FunctionRef{Name: "fn"}, &lambada.Invocation{RequestID: "id", Type: lambada.RequestResponse})
	if lambada.ErrorCode(err) != lambada.ETHROTTLED {
		t.Fatalf("Invoke: %v, want the throttle", err)
	}
	if c[lambada.MetricThrottles] != 1 || c[lambada.MetricInvocations] != 0 || c[lambada.MetricErrors] != 0 {
		t.Errorf("counted %v, want one throttle and nothing else", c)
	}
}
