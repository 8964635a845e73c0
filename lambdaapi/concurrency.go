package lambdaapi

import (
	"fmt"
	"net/http"

	"github.com/lambada-dev/lambada"
)

// Reservations is told of every change to a function's reserved
// concurrency, so that invocations are admitted against it at once
// (invoke.Limiter).
type Reservations interface {
	SetReserved(function string, n *int)
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

// reservedTotal sums the reserved concurrency of every function but except.
func (s *Server) reservedTotal(r *http.Request, except string) (int, error) {
	fns, err := s.Functions.Functions(r.Context())
	if err != nil {
		return 0, fmt.Errorf("list functions: %w", err)
	}
	total := 0
	for _, f := range fns {
		if f.ReservedConcurrency != nil && f.Name != except {
			total += *f.ReservedConcurrency
		}
	}
	return total, nil
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
	others, err := s.reservedTotal(r, ref.Name)
	if err != nil {
		return err
	}
	if err := lambada.CheckReservedConcurrency(n, s.accountConcurrency(), others); err != nil {
		return err
	}
	if _, err := s.mutate(r.Context(), ref.Name, lambada.LatestVersion, func(f *lambada.Function) error {
		f.ReservedConcurrency = &n
		return nil
	}); err != nil {
		return err
	}
	if s.Reservations != nil {
		s.Reservations.SetReserved(ref.Name, &n)
	}
	return writeJSON(w, http.StatusOK, &concurrencyBody{ReservedConcurrentExecutions: &n})
}

// getFunctionConcurrency handles GetFunctionConcurrency: {} when unset.
func (s *Server) getFunctionConcurrency(w http.ResponseWriter, r *http.Request) error {
	ref, err := s.concurrencyRef(r)
	if err != nil {
		return err
	}
	f, err := s.lookup(r.Context(), ref.Name, lambada.LatestVersion)
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
	if _, err := s.mutate(r.Context(), ref.Name, lambada.LatestVersion, func(f *lambada.Function) error {
		if f.ReservedConcurrency == nil {
			return errUnchanged
		}
		f.ReservedConcurrency = nil
		return nil
	}); err != nil {
		return err
	}
	if s.Reservations != nil {
		s.Reservations.SetReserved(ref.Name, nil)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
