// Package invoke is the invocation service: resolve the function and its
// qualifier, check the payload, admit the invocation, acquire an execution
// environment, deliver, await and release. It is the one path every
// synchronous invocation takes (and, later, the asynchronous dispatcher). It
// owns no processes (package sandbox does) and speaks no HTTP.
package invoke

import (
	"cmp"
	"context"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/lambada-dev/lambada"
)

// FunctionGetter reads function records from memory.
type FunctionGetter interface {
	Function(ctx context.Context, name string) (*lambada.Function, error)
}

// CodePather finds (unpacking if needed) the directory of a code archive.
type CodePather interface {
	Path(ctx context.Context, key string) (string, error)
	Opt(ctx context.Context, keys []string) (string, error) // layers, merged
}

// Runner runs an invocation in an execution environment (sandbox.Manager),
// and reports once, to the Limiter, when the environment is done with it.
type Runner interface {
	Run(ctx context.Context, cfg *lambada.SandboxConfig, inv *lambada.Invocation) (*lambada.Result, error)
}

// Provisioner keeps environments initialised ahead of time
// (sandbox.Manager).
type Provisioner interface {
	Provision(function string, want []lambada.SandboxTarget)
	Ready(function, version string) (ready int, failure string)
	// Retire stops every environment of a deleted function.
	Retire(function string)
}

// Peers run invocations on the other nodes of a cluster (relay.Relay).
type Peers interface {
	// Warm runs inv on another node with an idle environment of t; false
	// when none took it.
	Warm(ctx context.Context, t lambada.RunTarget, inv *lambada.Invocation) (*lambada.Result, bool, error)
	// Elsewhere runs inv on another node that admits it; false when every
	// one throttled it.
	Elsewhere(ctx context.Context, t lambada.RunTarget, inv *lambada.Invocation) (*lambada.Result, bool, error)
}

// Warmth tells whether this node has an idle environment of a version
// (sandbox.Manager).
type Warmth interface {
	HasIdle(function, version string) bool
}

// Enqueuer stores accepted asynchronous events (lambada.EventQueue).
type Enqueuer interface {
	Enqueue(ctx context.Context, e *lambada.AsyncEvent) error
}

// Service runs invocations.
type Service struct {
	Functions   FunctionGetter
	Code        CodePather
	Sandboxes   Runner
	Provisioner Provisioner // nil: provisioned concurrency starts nothing
	Limiter     *Limiter    // nil: no concurrency limit
	Queue       Enqueuer    // nil: Event invocations are refused
	// Peers, in a cluster, run what this node has no warm environment or
	// no share of the limits for; Warmth says which environments are warm
	// here. Nil: a node alone.
	Peers   Peers
	Warmth  Warmth
	Meter   lambada.Meter // hears Invocations, Errors, Throttles, spillovers, AsyncEventsReceived; nil: none
	Region  string
	Account string

	// Rand returns a uniform number in [0, 1) for weighted alias routing;
	// math/rand/v2's Float64 when nil.
	Rand func() float64
	// Now is the clock asynchronous events are stamped with; time.Now when
	// nil.
	Now func() time.Time

	applyMu sync.Mutex // one Apply at a time
}

func (s *Service) pick() float64 {
	if s.Rand != nil {
		return s.Rand()
	}
	return rand.Float64()
}

// Invoke resolves ref, checks inv.Payload (replacing an empty one with {})
// and that the configuration it resolved to is Active. Then, for
// RequestResponse, it admits the invocation against the concurrency limits,
// runs it and returns its result; for Event it stores the event in the
// queue and returns an empty Result; for DryRun it stops (using no
// concurrency) and returns an empty Result. inv.InvokedARN and inv.Slot are
// set here: the slot is the Limiter's, freed when the Runner reports the
// invocation done (or here, when it never reaches the Runner).
func (s *Service) Invoke(ctx context.Context, ref lambada.FunctionRef, inv *lambada.Invocation) (*lambada.Result, error) {
	fn, cfg, err := s.resolve(ctx, ref)
	if err != nil {
		return nil, err
	}
	if inv.Payload, err = lambada.CheckPayload(inv.Payload); err != nil {
		return nil, err
	}
	if err := cfg.CheckInvocable(); err != nil {
		return nil, err
	}
	switch inv.Type {
	case lambada.DryRun:
		return &lambada.Result{ExecutedVersion: cfg.Version}, nil
	case lambada.Event:
		return &lambada.Result{}, s.enqueue(ctx, fn, ref.Qualifier, inv)
	}
	return s.run(ctx, fn, cfg, ref, inv)
}

// enqueue stores an accepted Event invocation.
func (s *Service) enqueue(ctx context.Context, fn *lambada.Function, qualifier string, inv *lambada.Invocation) error {
	if s.Queue == nil {
		return lambada.Errorf(lambada.EINVALID, "Asynchronous invocation is not available on this node")
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	err := s.Queue.Enqueue(ctx, &lambada.AsyncEvent{
		RequestID: inv.RequestID,
		Function:  fn.Name,
		Account:   fn.Account,
		Qualifier: qualifier,
		Payload:   inv.Payload,
		Accepted:  now(),
	})
	if err == nil {
		s.meter().Count(lambada.MetricAsyncEventsReceived, lambada.NewMetricLabels(fn.Key(), qualifier, ""))
	}
	return err
}

// meter is s.Meter, or one that hears nothing.
func (s *Service) meter() lambada.Meter {
	if s.Meter == nil {
		return lambada.NoMeter{}
	}
	return s.Meter
}

// RunEvent runs one attempt of a queued asynchronous event: the function
// and qualifier are resolved now (queued $LATEST events run the code
// current when they run), admitted against the concurrency limits like a
// synchronous invocation, and run. The error is the invocation's (a
// throttle, a state, a missing function), never the function's.
func (s *Service) RunEvent(ctx context.Context, e *lambada.AsyncEvent) (*lambada.Result, error) {
	ref := e.Ref()
	fn, cfg, err := s.resolve(ctx, ref)
	if err != nil {
		return nil, err
	}
	if err := cfg.CheckInvocable(); err != nil {
		return nil, err
	}
	inv := &lambada.Invocation{RequestID: e.RequestID, Type: lambada.Event, LogType: lambada.LogNone, Payload: e.Payload}
	return s.run(ctx, fn, cfg, ref, inv)
}

// resolve finds the function and the configuration ref names, or Invoke's
// 404.
func (s *Service) resolve(ctx context.Context, ref lambada.FunctionRef) (*lambada.Function, *lambada.FunctionConfig, error) {
	fn, err := s.Functions.Function(ctx, ref.Key(s.Account))
	if lambada.ErrorCode(err) == lambada.ENOTFOUND {
		return nil, nil, s.notFound(ref)
	} else if err != nil {
		return nil, nil, err
	}
	cfg, err := fn.Resolve(ref.Qualifier, s.pick())
	if lambada.ErrorCode(err) == lambada.ENOTFOUND {
		return nil, nil, s.notFound(ref)
	} else if err != nil {
		return nil, nil, err
	}
	return fn, cfg, nil
}

// run admits inv and runs it in an execution environment of cfg. In a
// cluster, a node with no idle environment of cfg first offers inv to the
// nodes that have one, and a node whose share of the limits is taken
// offers it to every other node before it answers with the throttle.
func (s *Service) run(ctx context.Context, fn *lambada.Function, cfg *lambada.FunctionConfig, ref lambada.FunctionRef, inv *lambada.Invocation) (*lambada.Result, error) {
	inv.InvokedARN = lambada.FunctionARN(s.Region, fn.AccountOr(s.Account), fn.Name, ref.Qualifier)
	key := fn.Key()
	target := lambada.RunTarget{Key: key, Qualifier: ref.Qualifier, Version: cfg.Version, Generation: cfg.Generation(),
		Timeout: time.Duration(cfg.Timeout) * time.Second}
	if s.Peers != nil && (s.Warmth == nil || !s.Warmth.HasIdle(key, cfg.Version)) {
		if res, ok, err := s.Peers.Warm(ctx, target, inv); ok {
			return res, err
		}
	}
	res, err := s.runHere(ctx, fn, cfg, ref.Qualifier, inv, nil)
	if lambada.ErrorCode(err) != lambada.ETHROTTLED {
		return res, err
	}
	if s.Peers != nil {
		if res, ok, err := s.Peers.Elsewhere(ctx, target, inv); ok {
			return res, err
		}
	}
	s.meter().Count(lambada.MetricThrottles, lambada.NewMetricLabels(key, ref.Qualifier, cfg.Version))
	return nil, err
}

// RunHere runs inv on this node, never another: an invocation another
// node of the cluster resolved to t. It answers Invoke's 404 for a version
// this node does not know yet, ECONFLICT when it knows only an older
// configuration of it than the asking node, and a throttle when its share
// of the limits is taken (without counting it: the node that asked does).
func (s *Service) RunHere(ctx context.Context, t lambada.RunTarget, inv *lambada.Invocation, admitted func()) (*lambada.Result, error) {
	fn, err := s.Functions.Function(ctx, t.Key)
	if err != nil {
		return nil, err
	}
	cfg := fn.Version(t.Version)
	if t.Version == lambada.LatestVersion {
		cfg = fn.RunningLatest()
	}
	if cfg == nil {
		return nil, lambada.Errorf(lambada.ENOTFOUND, "Function not found: %s", lambada.FunctionARN(s.Region, fn.AccountOr(s.Account), fn.Name, t.Version))
	}
	if cfg.Generation() < t.Generation {
		return nil, lambada.Errorf(lambada.ECONFLICT, "this node knows an older configuration of %s:%s", t.Key, t.Version)
	}
	if err := cfg.CheckInvocable(); err != nil {
		return nil, err
	}
	return s.runHere(ctx, fn, cfg, t.Qualifier, inv, admitted)
}

// runHere admits inv against this node's limits, calls admitted (when not
// nil) once it is, and runs it in one of its environments of cfg.
func (s *Service) runHere(ctx context.Context, fn *lambada.Function, cfg *lambada.FunctionConfig, qualifier string, inv *lambada.Invocation, admitted func()) (*lambada.Result, error) {
	var err error
	labels := lambada.NewMetricLabels(fn.Key(), qualifier, cfg.Version)
	if s.Limiter != nil {
		if inv.Slot, err = s.Limiter.Admit(fn, cfg.Version); err != nil {
			return nil, err
		}
	}
	if admitted != nil {
		admitted()
	}
	sc, err := s.sandboxConfig(ctx, fn, cfg)
	if err != nil {
		if s.Limiter != nil {
			s.Limiter.Free(inv)
		}
		return nil, err
	}
	res, err := s.Sandboxes.Run(ctx, sc, inv)
	if lambada.ErrorCode(err) == lambada.ETHROTTLED { // no memory for a new environment, or the node fenced since: it ran nothing
		return nil, err
	}
	meter := s.meter()
	meter.Count(lambada.MetricInvocations, labels)
	if err != nil || res.FunctionError != "" {
		meter.Count(lambada.MetricErrors, labels)
	}
	if !inv.Slot.Provisioned && fn.ProvisionedVersions()[cfg.Version] > 0 {
		meter.Count(lambada.MetricSpillover, labels)
	}
	return res, err
}

// sandboxConfig is what environments of cfg, of the function fn, run: its
// code and its layers ready on this node.
func (s *Service) sandboxConfig(ctx context.Context, fn *lambada.Function, cfg *lambada.FunctionConfig) (*lambada.SandboxConfig, error) {
	dir, err := s.Code.Path(ctx, cfg.CodeKey())
	if err != nil {
		return nil, err
	}
	sc := lambada.NewSandboxConfig(s.Region, fn.Name, cfg, dir)
	sc.Account = fn.Account
	if len(cfg.Layers) > 0 {
		if sc.OptDir, err = s.Code.Opt(ctx, lambada.LayerKeys(cfg.Layers)); err != nil {
			return nil, err
		}
	}
	return sc, nil
}

// notFound is Invoke's 404, which names $LATEST when no qualifier was given,
// and otherwise the version or alias asked for.
func (s *Service) notFound(ref lambada.FunctionRef) error {
	return lambada.Errorf(lambada.ENOTFOUND, "Function not found: %s",
		lambada.FunctionARN(s.Region, cmp.Or(ref.Account, s.Account), ref.Name, ref.VersionOrLatest()))
}
