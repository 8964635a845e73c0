// Package invoke is the invocation service: resolve the function and its
// qualifier, check the payload, admit the invocation, acquire an execution
// environment, deliver, await and release. It is the one path every
// synchronous invocation takes (and, later, the asynchronous dispatcher). It
// owns no processes (package sandbox does) and speaks no HTTP.
package invoke

import (
	"context"
	"math/rand/v2"
	"sync"

	"github.com/lambada-dev/lambada"
)

// FunctionGetter reads function records from memory.
type FunctionGetter interface {
	Function(ctx context.Context, name string) (*lambada.Function, error)
}

// CodePather finds (unpacking if needed) the directory of a code archive.
type CodePather interface {
	Path(ctx context.Context, key string) (string, error)
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

// Service runs invocations.
type Service struct {
	Functions   FunctionGetter
	Code        CodePather
	Sandboxes   Runner
	Provisioner Provisioner // nil: provisioned concurrency starts nothing
	Limiter     *Limiter    // nil: no concurrency limit
	Region      string
	Account     string

	// Rand returns a uniform number in [0, 1) for weighted alias routing;
	// math/rand/v2's Float64 when nil.
	Rand func() float64

	applyMu sync.Mutex // one Apply at a time
}

func (s *Service) pick() float64 {
	if s.Rand != nil {
		return s.Rand()
	}
	return rand.Float64()
}

// Invoke resolves ref, checks inv.Payload (replacing an empty one with {})
// and that the configuration it resolved to is Active, and for RequestResponse admits the invocation against the concurrency
// limits, runs it and returns its result. For DryRun it stops after
// resolving and checking (using no concurrency), and returns an empty
// Result. inv.InvokedARN and inv.Slot are set here: the slot is the
// Limiter's, freed when the Runner reports the invocation done (or here,
// when it never reaches the Runner).
func (s *Service) Invoke(ctx context.Context, ref lambada.FunctionRef, inv *lambada.Invocation) (*lambada.Result, error) {
	fn, err := s.Functions.Function(ctx, ref.Name)
	if lambada.ErrorCode(err) == lambada.ENOTFOUND {
		return nil, s.notFound(ref)
	} else if err != nil {
		return nil, err
	}
	cfg, err := fn.Resolve(ref.Qualifier, s.pick())
	if lambada.ErrorCode(err) == lambada.ENOTFOUND {
		return nil, s.notFound(ref)
	} else if err != nil {
		return nil, err
	}
	if inv.Payload, err = lambada.CheckPayload(inv.Payload); err != nil {
		return nil, err
	}
	if err := cfg.CheckInvocable(); err != nil {
		return nil, err
	}
	if inv.Type == lambada.DryRun {
		return &lambada.Result{ExecutedVersion: cfg.Version}, nil
	}
	inv.InvokedARN = lambada.FunctionARN(s.Region, s.Account, fn.Name, ref.Qualifier)
	if s.Limiter != nil {
		if inv.Slot, err = s.Limiter.Admit(fn, cfg.Version); err != nil {
			return nil, err
		}
	}
	dir, err := s.Code.Path(ctx, cfg.CodeKey())
	if err != nil {
		if s.Limiter != nil {
			s.Limiter.Free(inv)
		}
		return nil, err
	}
	return s.Sandboxes.Run(ctx, lambada.NewSandboxConfig(s.Region, fn.Name, cfg, dir), inv)
}

// notFound is Invoke's 404, which names $LATEST when no qualifier was given,
// and otherwise the version or alias asked for.
func (s *Service) notFound(ref lambada.FunctionRef) error {
	return lambada.Errorf(lambada.ENOTFOUND, "Function not found: %s",
		lambada.FunctionARN(s.Region, s.Account, ref.Name, ref.VersionOrLatest()))
}
