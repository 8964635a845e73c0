package lambdaapi

import (
	"context"
	"fmt"
	"net/http"

	"github.com/lambada-dev/lambada"
)

// Provisioner hears of every change to a function's reserved and
// provisioned concurrency, versions and aliases, so that invocations are
// admitted against them and provisioned environments started at once, and
// reports the progress of those (invoke.Service).
type Provisioner interface {
	// Apply makes the stored concurrency settings of the function named
	// name take effect (none, once it is deleted).
	Apply(ctx context.Context, name string) error
	// Allocated returns how many environments of the provisioned
	// concurrency of qualifier of f are ready, and why one failed to
	// start, if one did.
	Allocated(f *lambada.Function, qualifier string) (int, string)
}

type concurrencyBody struct {
	ReservedConcurrentExecutions *int `json:"ReservedConcurrentExecutions,omitempty"`
}

// routeConcurrency registers the reserved-concurrency operations, on AWS's
// mixed dated paths.
func (s *Server) routeConcurrency(handle func(string, func(http.ResponseWriter, *http.Request) error)) {
	handle("PUT /2017-10-31/functions/{name}/concurrency", s.putFunctionConcurrency)
	handle("GET /2019-09-30/functions/{name}/concurrency", s.getFunctionConcurrency)
	handle("DELETE /2017-10-31/functions/{name}/concurrency", s.deleteFunctionConcurrency)
}

// accountConcurrency is the account's concurrency limit.
func (s *Server) accountConcurrency() int {
	if s.Concurrency == 0 {
		return DefaultConcurrency
	}
	return s.Concurrency
}

// holdOthers returns what every function but except takes out of the
// account's unreserved pool (lambada.Function.HeldConcurrency), and holds
// the other changes checked against it until unlock: the check and the
// write of one change are one step on this node, so that two changes to
// different functions cannot both pass. unlock is never nil.
func (s *Server) holdOthers(ctx context.Context, except string) (held int, unlock func(), err error) {
	s.concurrencyMu.Lock()
	fns, err := s.functions(ctx)
	if err != nil {
		s.concurrencyMu.Unlock()
		return 0, func() {}, fmt.Errorf("list functions: %w", err)
	}
	for _, f := range fns {
		if f.Name != except {
			held += f.HeldConcurrency()
		}
	}
	return held, s.concurrencyMu.Unlock, nil
}

// apply tells the Provisioner of a stored change to the function named
// name. The change is stored: a failure to apply it is logged, not
// answered.
func (s *Server) apply(ctx context.Context, name string) {
	if s.Provisioner == nil {
		return
	}
	if err := s.Provisioner.Apply(ctx, s.key(ctx, name)); err != nil {
		s.Logger.Error("apply concurrency settings", "function", name, "err", err)
	}
}

// concurrencyRef parses the {name} of the concurrency operations, which act
// on the function as a whole: a qualified name is refused.
func (s *Server) concurrencyRef(r *http.Request) (lambada.FunctionRef, error) {
	var v lambada.Validation
	ref, err := s.parseUpdateRef(&v, r)
	if verr := v.Err(); verr != nil {
		return ref, verr
	}
	return ref, err
}

// putFunctionConcurrency handles PutFunctionConcurrency.
func (s *Server) putFunctionConcurrency(w http.ResponseWriter, r *http.Request) error {
	ref, err := s.concurrencyRef(r)
	if err != nil {
		return err
	}
	var body concurrencyBody
	if err := decodeBody(r, "PutFunctionConcurrency", &body); err != nil {
		return err
	}
	if body.ReservedConcurrentExecutions == nil {
		var v lambada.Validation
		v.AddNull("reservedConcurrentExecutions")
		return v.Err()
	}
	n := *body.ReservedConcurrentExecutions
	if _, err := s.lookup(r.Context(), ref.Name, lambada.LatestVersion); err != nil {
		return err
	}
	others, unlock, err := s.holdOthers(r.Context(), ref.Name)
	if err != nil {
		return err
	}
	defer unlock()
	if err := lambada.CheckReservedConcurrency(n, s.accountConcurrency(), others); err != nil {
		return err
	}
	f, err := s.mutate(r.Context(), ref.Name, lambada.LatestVersion, func(f *lambada.Function) error {
		if err := lambada.CheckProvisionedFloor(f, n); err != nil {
			return err
		}
		f.ReservedConcurrency = &n
		return nil
	})
	if err != nil {
		return err
	}
	s.apply(r.Context(), f.Name)
	return writeJSON(w, http.StatusOK, &concurrencyBody{ReservedConcurrentExecutions: &n})
}

// getFunctionConcurrency handles GetFunctionConcurrency: {} when unset. A
// missing function is reported with its unqualified ARN (Put and Delete add
// ":$LATEST").
func (s *Server) getFunctionConcurrency(w http.ResponseWriter, r *http.Request) error {
	ref, err := s.concurrencyRef(r)
	if err != nil {
		return err
	}
	f, err := s.lookup(r.Context(), ref.Name, "")
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, &concurrencyBody{ReservedConcurrentExecutions: f.ReservedConcurrency})
}

// deleteFunctionConcurrency handles DeleteFunctionConcurrency: 204.
func (s *Server) deleteFunctionConcurrency(w http.ResponseWriter, r *http.Request) error {
	ref, err := s.concurrencyRef(r)
	if err != nil {
		return err
	}
	return s.remove(w, r, ref.Name, lambada.LatestVersion, func(f *lambada.Function) bool {
		had := f.ReservedConcurrency != nil
		f.ReservedConcurrency = nil
		return had
	})
}
