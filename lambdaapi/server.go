// Package lambdaapi serves the AWS Lambda REST API (rest-json, 2015-03-31 and
// its dated siblings) over net/http. It decodes and validates requests, calls
// the control plane stores and the invocation service, and is the one place
// that maps a lambada.Error to an HTTP status, an x-amzn-ErrorType header and
// a JSON body. It holds no state of its own.
package lambdaapi

import (
	"context"
	"crypto/rand"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/lambada-dev/lambada"
)

// Invoker runs invocations (package invoke).
type Invoker interface {
	// Invoke resolves ref, checks inv.Payload, and runs (or for DryRun only
	// resolves) the invocation.
	Invoke(ctx context.Context, ref lambada.FunctionRef, inv *lambada.Invocation) (*lambada.Result, error)
}

// CodeStorer keeps code archives by the hex SHA-256 of their bytes.
type CodeStorer interface {
	// StoreCode checks that zip unpacks, stores it durably under key (its
	// hex SHA-256) and unpacks it into the node's cache.
	StoreCode(ctx context.Context, key string, zip []byte) error

	// Code returns the archive stored under key, or ENOTFOUND.
	Code(ctx context.Context, key string) ([]byte, error)
}

// Preparer makes the code of new and updated configurations ready and
// records their state transitions (deploy.Preparer).
type Preparer interface {
	// Prepare prepares, in the background, whatever of the function named
	// name is Pending or InProgress.
	Prepare(name string)
}

// Server is the Lambda API's HTTP handler.
type Server struct {
	Functions lambada.FunctionStore
	Layers    lambada.LayerStore // nil: no layers
	Code      CodeStorer
	Invoker   Invoker

	// Authorizer, when set, decides every request but code links: the
	// caller must be allowed the route's IAM action on its resource.
	Authorizer Authorizer

	// Provisioner, when set, hears of every change to a function's
	// concurrency settings, versions and aliases.
	Provisioner Provisioner

	// Preparer turns Pending and InProgress configurations Active and
	// Successful; without one they stay as they are.
	Preparer Preparer

	Region  string
	Account string

	// Concurrency is the account's concurrency limit; zero means
	// DefaultConcurrency.
	Concurrency int

	// CodeLinkKey signs the links GetFunction gives to code archives
	// (Code.Location); every node of a cluster must share it. Nil (or
	// shorter than 32 bytes): a random key of this process's own.
	CodeLinkKey []byte

	Logger *slog.Logger
	Now    func() time.Time // defaults to time.Now

	concurrencyMu sync.Mutex // serialises changes checked against every function's concurrency
}

// Handler returns the routes of every operation Lambada offers.
func (s *Server) Handler() http.Handler {
	if s.Now == nil {
		s.Now = time.Now
	}
	if s.Logger == nil {
		s.Logger = slog.New(slog.DiscardHandler)
	}
	if len(s.CodeLinkKey) < 32 { // none, or too short to keep links from being forged
		s.CodeLinkKey = make([]byte, 32)
		_, _ = rand.Read(s.CodeLinkKey)
	}
	mux := http.NewServeMux()
	handle := func(pattern string, h func(http.ResponseWriter, *http.Request) error) {
		mux.Handle(pattern, s.handler(func(w http.ResponseWriter, r *http.Request) error {
			r = s.withAccount(pattern, r)
			if err := s.authorize(pattern, r); err != nil {
				return err
			}
			return h(w, r)
		}))
	}
	s.routes(handle)
	unknown := s.handler(func(w http.ResponseWriter, r *http.Request) error {
		return &apiError{status: http.StatusNotFound, typ: "UnknownOperationException", body: map[string]string{"message": "Unknown operation " + r.Method + " " + r.URL.Path}}
	})
	mux.Handle("/", unknown)
	// A path with an empty, "." or ".." segment is no operation: answered
	// as such, where the mux would redirect to its clean form.
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if uncleanPath(r.URL.Path) {
			unknown.ServeHTTP(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// uncleanPath reports whether p has an empty, "." or ".." segment (a
// trailing slash aside).
func uncleanPath(p string) bool {
	segments := strings.Split(strings.TrimPrefix(strings.TrimSuffix(p, "/"), "/"), "/")
	for _, s := range segments {
		if s == "" && p != "/" || s == "." || s == ".." {
			return true
		}
	}
	return false
}

type accountKey struct{}

// withAccount returns r with the account it acts in, when it is not the
// node's own: the account of the function ARN it names, or else the
// caller's (Authorizer.Account). Without an Authorizer every request acts
// in the node's own account.
func (s *Server) withAccount(pattern string, r *http.Request) *http.Request {
	if s.Authorizer == nil {
		return r
	}
	account := s.Authorizer.Account(r.Context())
	var named string
	switch {
	case strings.Contains(pattern, "/functions/{name}"):
		named = r.PathValue("name")
	case strings.Contains(pattern, "{arn}"):
		named = r.PathValue("arn")
	case strings.Contains(pattern, "/layers/{name}"):
		// A layer named by its ARN (arn:aws:lambda:region:account:layer:name)
		// is that account's.
		if parts := strings.Split(r.PathValue("name"), ":"); len(parts) == 7 && parts[5] == "layer" && parts[4] != "" {
			account = parts[4]
		}
	}
	if strings.Contains(named, ":") { // an ARN, whole or partial
		var v lambada.Validation
		if ref, _ := lambada.ParseFunctionRef(&v, named, nil); ref.Account != "" {
			account = ref.Account
		}
	}
	if account == "" || account == s.Account {
		return r
	}
	return r.WithContext(context.WithValue(r.Context(), accountKey{}, account))
}

// account is the account a request acts in (its context's).
func (s *Server) account(ctx context.Context) string {
	if a, ok := ctx.Value(accountKey{}).(string); ok {
		return a
	}
	return s.Account
}

// own is the Account of the records of the account a request acts in: ""
// for the node's own.
func (s *Server) own(ctx context.Context) string {
	a, _ := ctx.Value(accountKey{}).(string)
	return a
}

// key is the AccountKey of the function name of the account a request
// acts in.
func (s *Server) key(ctx context.Context, name string) string {
	return lambada.AccountKey("", s.own(ctx), name)
}

// routes registers every operation with handle.
func (s *Server) routes(handle func(string, func(http.ResponseWriter, *http.Request) error)) {
	handle("POST /2015-03-31/functions/{name}/invocations", s.invoke)
	s.routeFunctions(handle)
	s.routeLayers(handle)
}

// handler adapts a handler that returns an error, rendering the error.
func (s *Server) handler(h func(http.ResponseWriter, *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if w.Header().Get("X-Amzn-Requestid") == "" {
			w.Header().Set("X-Amzn-Requestid", newRequestID())
		}
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	})
}

// newRequestID returns a random UUID.
func newRequestID() string { return uuid.NewString() }

func init() { uuid.EnableRandPool() }
