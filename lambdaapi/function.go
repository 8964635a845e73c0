package lambdaapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/google/uuid"
	"github.com/lambada-dev/lambada"
)

// maxRequestBody is the largest request body the control plane reads, AWS's
// limit for CreateFunction (a 50 MiB zip, base64-encoded, plus the rest).
const maxRequestBody = 70167211

// maxWriteAttempts bounds the compare-and-set retries of one mutation before
// it answers 409 rather than lose an update.
const maxWriteAttempts = 5

// routeFunctions registers the control plane's function operations.
func (s *Server) routeFunctions(handle func(string, func(http.ResponseWriter, *http.Request) error)) {
	handle("POST /2015-03-31/functions", s.createFunction)
	handle("POST /2015-03-31/functions/{$}", s.createFunction)
	handle("GET /2015-03-31/functions", s.listFunctions)
	handle("GET /2015-03-31/functions/{$}", s.listFunctions)
	handle("GET /2015-03-31/functions/{name}", s.getFunction)
	handle("DELETE /2015-03-31/functions/{name}", s.deleteFunction)
	handle("GET /2015-03-31/functions/{name}/configuration", s.getFunctionConfiguration)
	handle("PUT /2015-03-31/functions/{name}/configuration", s.updateFunctionConfiguration)
	handle("PUT /2015-03-31/functions/{name}/code", s.updateFunctionCode)
	handle("GET "+CodePath+"{key}", s.downloadCode)
	s.routeVersions(handle)
	s.routeAliases(handle)
	s.routeAccount(handle)
	s.routeTags(handle)
	s.routePolicies(handle)
}

// qualifierParam returns the Qualifier query parameter, or nil when the
// request has none.
func qualifierParam(r *http.Request) *string {
	if q, ok := r.URL.Query()["Qualifier"]; ok && len(q) > 0 {
		return &q[0]
	}
	return nil
}

// parseRef validates the {name} path value and the Qualifier parameter as
// the Get and Delete operations do, in AWS's order: constraints, the ARN's
// region and account, then a qualifier that disagrees with the name's.
func (s *Server) parseRef(r *http.Request) (lambada.FunctionRef, error) {
	var v lambada.Validation
	ref, mismatch := lambada.ParseFunctionRef(&v, r.PathValue("name"), qualifierParam(r))
	if err := v.Err(); err != nil {
		return ref, err
	}
	if err := ref.CheckRegion(s.Region, s.account(r.Context())); err != nil {
		return ref, err
	}
	return ref, mismatch
}

// parseUpdateRef validates the {name} of the operations whose FunctionName
// names a function, not a version or alias (the Update operations,
// PublishVersion and the alias operations), adding violations to v. The error
// is for a name from another region or account, or with a qualifier.
func (s *Server) parseUpdateRef(v *lambada.Validation, r *http.Request) (lambada.FunctionRef, error) {
	ref := lambada.ParseFunctionName(v, r.PathValue("name"))
	if ref.Name == "" {
		return ref, nil
	}
	if err := ref.CheckRegion(s.Region, s.account(r.Context())); err != nil {
		return ref, err
	}
	if ref.Qualifier != "" {
		return ref, lambada.Errorf(lambada.EINVALID, "This operation is permitted on Lambda functions only. Aliases and versions do not support this operation. Please specify either a function name or an unqualified function ARN.")
	}
	return ref, nil
}

// notFound is AWS's error for a missing function, or a missing version of
// one when qualifier is not empty.
func (s *Server) notFound(ctx context.Context, name, qualifier string) error {
	return lambada.Errorf(lambada.ENOTFOUND, "Function not found: %s", lambada.FunctionARN(s.Region, s.account(ctx), name, qualifier))
}

// arn is the ARN of f, qualified by qualifier when not "".
func (s *Server) arn(f *lambada.Function, qualifier string) string {
	return lambada.FunctionARN(s.Region, f.AccountOr(s.Account), f.Name, qualifier)
}

// notFoundIn is notFound for a qualifier of f.
func (s *Server) notFoundIn(f *lambada.Function, qualifier string) error {
	return lambada.Errorf(lambada.ENOTFOUND, "Function not found: %s", s.arn(f, qualifier))
}

// lookup returns the function named name; a missing one is reported with
// the ARN qualified by qualifier.
func (s *Server) lookup(ctx context.Context, name, qualifier string) (*lambada.Function, error) {
	f, err := s.Functions.Function(ctx, s.key(ctx, name))
	if lambada.ErrorCode(err) == lambada.ENOTFOUND {
		return nil, s.notFound(ctx, name, qualifier)
	} else if err != nil {
		return nil, fmt.Errorf("read function %s: %w", name, err)
	}
	return f, nil
}

// errRevision is AWS's answer to a stale RevisionId.
var errRevision = lambada.Errorf(lambada.EPRECONDITION, "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id")

// errUnchanged, returned by the change of a mutate, ends it without a write.
var errUnchanged = errors.New("unchanged")

// mutate applies change to a copy of the function named name and writes it
// with compare-and-set, retrying when another writer won the race. A missing
// function is reported with the ARN qualified by qualifier. When change
// returns errUnchanged nothing is written and the copy is returned.
func (s *Server) mutate(ctx context.Context, name, qualifier string, change func(*lambada.Function) error) (*lambada.Function, error) {
	for range maxWriteAttempts {
		f, err := s.lookup(ctx, name, qualifier)
		if err != nil {
			return nil, err
		}
		c := f.Clone()
		if err := change(c); errors.Is(err, errUnchanged) {
			return c, nil
		} else if err != nil {
			return nil, err
		}
		rev, err := s.Functions.PutFunction(ctx, c)
		switch lambada.ErrorCode(err) {
		case "":
			c.Revision = rev
			return c, nil
		case lambada.EPRECONDITION:
			continue // another writer won: read again
		case lambada.ENOTFOUND:
			return nil, s.notFound(ctx, name, qualifier)
		}
		return nil, fmt.Errorf("write function %s: %w", name, err)
	}
	return nil, lambada.Errorf(lambada.ECONFLICT, "The operation cannot be performed at this time. An update is in progress for resource: %s", lambada.FunctionARN(s.Region, s.account(ctx), name, ""))
}

// remove deletes something from the function named name with del, which
// reports whether there was anything to delete (nothing is written if
// not), tells the Provisioner, and answers 204. A missing function is
// reported with the ARN qualified by qualifier.
func (s *Server) remove(w http.ResponseWriter, r *http.Request, name, qualifier string, del func(*lambada.Function) bool) error {
	if _, err := s.mutate(r.Context(), name, qualifier, func(f *lambada.Function) error {
		if !del(f) {
			return errUnchanged
		}
		return nil
	}); err != nil {
		return err
	}
	s.apply(r.Context(), name)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// checkUpdatable returns the error for changing f's code or configuration
// (or publishing it): an update in progress, a function still being created,
// or, when revisionID is not empty, a RevisionId that is not $LATEST's.
func (s *Server) checkUpdatable(f *lambada.Function, revisionID string) error {
	if err := f.Latest.CheckUpdatable(s.arn(f, "")); err != nil {
		return err
	}
	if revisionID != "" && revisionID != f.Latest.RevisionID {
		return errRevision
	}
	return nil
}

// prepare has the Preparer make the function whose AccountKey is key
// ready after a change that left a configuration Pending or InProgress.
func (s *Server) prepare(key string) {
	if s.Preparer != nil {
		s.Preparer.Prepare(key)
	}
}

// functions are the functions of the account a request acts in.
func (s *Server) functions(ctx context.Context) ([]*lambada.Function, error) {
	all, err := s.Functions.Functions(ctx)
	if err != nil {
		return nil, err
	}
	own := s.own(ctx)
	mine := all[:0:0]
	for _, f := range all {
		if f.Account == own {
			mine = append(mine, f)
		}
	}
	return mine, nil
}

// touch gives c a new RevisionId and LastModified, as every change does.
func (s *Server) touch(c *lambada.FunctionConfig) {
	c.RevisionID = uuid.NewString()
	c.LastModified = s.Now()
}

// decodeBody reads a JSON request body of at most maxRequestBody bytes into
// dst; an empty body decodes as {}.
func decodeBody(r *http.Request, operation string, dst any) error {
	tooLarge := lambada.Errorf(lambada.ETOOLARGE, "Request must be smaller than %d bytes for the %s operation", maxRequestBody, operation)
	if r.ContentLength > maxRequestBody {
		return tooLarge
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBody+1))
	if err != nil {
		return lambada.Errorf(lambada.ECONTENT, "Could not read request body: %v", err)
	}
	if len(b) > maxRequestBody {
		return tooLarge
	}
	if len(b) == 0 {
		return nil
	}
	if err := json.Unmarshal(b, dst); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return lambada.Errorf(lambada.ECONTENT, "Could not parse request body into json: the value of %s must be a JSON %s", typeErr.Field, jsonKind(typeErr.Type.Kind().String()))
		}
		return lambada.Errorf(lambada.ECONTENT, "Could not parse request body into json: %v", err)
	}
	return nil
}

// jsonKind names a Go kind as the JSON type a client should have sent.
func jsonKind(kind string) string {
	switch kind {
	case "int", "int64", "int32", "float64":
		return "number"
	case "bool":
		return "boolean"
	case "struct", "map":
		return "object"
	case "slice":
		return "array or base64 string"
	}
	return kind
}
