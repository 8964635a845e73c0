package lambdaapi

import (
	"fmt"
	"net/http"

	"github.com/lambada-dev/lambada"
)

// DefaultConcurrency is the account concurrency limit when
// Server.Concurrency is zero, AWS's default quota.
const DefaultConcurrency = 1000

// totalCodeSize is AWS's default quota for all code archives, 75 GiB.
const totalCodeSize = 80530636800

type accountSettings struct {
	AccountLimit accountLimit `json:"AccountLimit"`
	AccountUsage accountUsage `json:"AccountUsage"`
}

type accountLimit struct {
	TotalCodeSize                  int64 `json:"TotalCodeSize"`
	CodeSizeUnzipped               int64 `json:"CodeSizeUnzipped"`
	CodeSizeZipped                 int64 `json:"CodeSizeZipped"`
	ConcurrentExecutions           int   `json:"ConcurrentExecutions"`
	UnreservedConcurrentExecutions int   `json:"UnreservedConcurrentExecutions"`
}

type accountUsage struct {
	TotalCodeSize int64 `json:"TotalCodeSize"`
	FunctionCount int64 `json:"FunctionCount"`
}

// routeAccount registers the account-wide operations.
func (s *Server) routeAccount(handle func(string, func(http.ResponseWriter, *http.Request) error)) {
	handle("GET /2016-08-19/account-settings", s.getAccountSettings)
	handle("GET /2016-08-19/account-settings/{$}", s.getAccountSettings)
	s.routeConcurrency(handle)
	s.routeProvisioned(handle)
	s.routeEventInvoke(handle)
}

// getAccountSettings handles GetAccountSettings: the limits, and the code
// size and count of the functions stored.
func (s *Server) getAccountSettings(w http.ResponseWriter, r *http.Request) error {
	fns, err := s.functions(r.Context())
	if err != nil {
		return fmt.Errorf("list functions: %w", err)
	}
	concurrency := s.accountConcurrency()
	held := 0
	for _, f := range fns {
		held += f.HeldConcurrency()
	}
	out := accountSettings{
		AccountLimit: accountLimit{
			TotalCodeSize:                  totalCodeSize,
			CodeSizeUnzipped:               lambada.MaxUnzippedSize,
			CodeSizeZipped:                 lambada.MaxZippedSize,
			ConcurrentExecutions:           concurrency,
			UnreservedConcurrentExecutions: concurrency - held,
		},
		AccountUsage: accountUsage{FunctionCount: int64(len(fns))},
	}
	for _, f := range fns {
		out.AccountUsage.TotalCodeSize += f.TotalCodeSize()
	}
	return writeJSON(w, http.StatusOK, &out)
}
