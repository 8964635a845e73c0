package lambdaapi

import (
	"context"
	"net/http"
	"strconv"

	"github.com/lambada-dev/lambada"
)

// provisionedLastModifiedLayout is how AWS renders a provisioned concurrency
// configuration's LastModified (no milliseconds, unlike a function's).
const provisionedLastModifiedLayout = "2006-01-02T15:04:05-0700"

// maxProvisionedListItems is ListProvisionedConcurrencyConfigs' MaxItems
// limit.
const maxProvisionedListItems = 50

type provisionedRequest struct {
	ProvisionedConcurrentExecutions *int
}

// provisionedConfig is the Get and Put response, and with FunctionArn an
// item of the List response.
type provisionedConfig struct {
	FunctionArn                              string `json:"FunctionArn,omitempty"`
	RequestedProvisionedConcurrentExecutions int    `json:"RequestedProvisionedConcurrentExecutions"`
	AvailableProvisionedConcurrentExecutions int    `json:"AvailableProvisionedConcurrentExecutions"`
	AllocatedProvisionedConcurrentExecutions int    `json:"AllocatedProvisionedConcurrentExecutions"`
	Status                                   string `json:"Status"`
	StatusReason                             string `json:"StatusReason,omitempty"`
	LastModified                             string `json:"LastModified"`
}

type listProvisionedResponse struct {
	ProvisionedConcurrencyConfigs []*provisionedConfig `json:"ProvisionedConcurrencyConfigs"`
	NextMarker                    string               `json:"NextMarker,omitempty"`
}

// routeProvisioned registers the provisioned concurrency operations; Get and
// List share a path, List carrying ?List=ALL.
func (s *Server) routeProvisioned(handle func(string, func(http.ResponseWriter, *http.Request) error)) {
	const path = "/2019-09-30/functions/{name}/provisioned-concurrency"
	handle("PUT "+path, s.putProvisioned)
	handle("GET "+path, func(w http.ResponseWriter, r *http.Request) error {
		if _, list := r.URL.Query()["List"]; list {
			return s.listProvisioned(w, r)
		}
		return s.getProvisioned(w, r)
	})
	handle("DELETE "+path, s.deleteProvisioned)
}

// provisionedRef parses {name} and the required Qualifier of Put, Get and
// Delete, adding violations to v. The error is for a name from another
// region or account, or whose qualifier disagrees with the parameter.
func (s *Server) provisionedRef(v *lambada.Validation, r *http.Request) (lambada.FunctionRef, error) {
	q := qualifierParam(r)
	ref, mismatch := lambada.ParseFunctionRef(v, r.PathValue("name"), q)
	if q == nil && ref.Qualifier == "" {
		v.AddNull("qualifier")
	}
	if ref.Name == "" {
		return ref, nil
	}
	if err := ref.CheckRegion(s.Region, s.account(r.Context())); err != nil {
		return ref, err
	}
	return ref, mismatch
}

// checkProvisionedTarget returns AWS's 404 when f (nil: missing) has no
// version or alias named qualifier.
func (s *Server) checkProvisionedTarget(ctx context.Context, name string, f *lambada.Function, qualifier string) error {
	if lambada.IsVersionNumber(qualifier) {
		if f == nil || f.Version(qualifier) == nil {
			return s.notFound(ctx, name, qualifier)
		}
		return nil
	}
	if f == nil || f.Alias(qualifier) == nil {
		return lambada.Errorf(lambada.ENOTFOUND, "Cannot find alias arn: %s", lambada.FunctionARN(s.Region, s.account(ctx), name, qualifier))
	}
	return nil
}

// provisionedFunction reads the function named name and checks that it has
// a version or alias named qualifier.
func (s *Server) provisionedFunction(r *http.Request, name, qualifier string) (*lambada.Function, error) {
	f, err := s.Functions.Function(r.Context(), s.key(r.Context(), name))
	if lambada.ErrorCode(err) == lambada.ENOTFOUND {
		f = nil
	} else if err != nil {
		return nil, err
	}
	if err := s.checkProvisionedTarget(r.Context(), name, f, qualifier); err != nil {
		return nil, err
	}
	return f, nil
}

// renderProvisioned renders the configuration of qualifier of f with the
// progress of its environments.
func (s *Server) renderProvisioned(f *lambada.Function, pc *lambada.ProvisionedConfig) *provisionedConfig {
	allocated, failure := 0, ""
	if s.Provisioner != nil {
		allocated, failure = s.Provisioner.Allocated(f, pc.Qualifier)
	}
	out := &provisionedConfig{
		RequestedProvisionedConcurrentExecutions: pc.Requested,
		AvailableProvisionedConcurrentExecutions: allocated,
		AllocatedProvisionedConcurrentExecutions: allocated,
		Status:                                   lambada.ProvisionedStatus(pc.Requested, allocated, failure),
		LastModified:                             pc.LastModified.UTC().Format(provisionedLastModifiedLayout),
	}
	if out.Status == lambada.ProvisionedFailed {
		out.StatusReason = failure
	}
	return out
}

// putProvisioned handles PutProvisionedConcurrencyConfig: 202 while the
// environments start.
func (s *Server) putProvisioned(w http.ResponseWriter, r *http.Request) error {
	var req provisionedRequest
	if err := decodeBody(r, "PutProvisionedConcurrencyConfig", &req); err != nil {
		return err
	}
	var v lambada.Validation
	ref, refErr := s.provisionedRef(&v, r)
	switch n := req.ProvisionedConcurrentExecutions; {
	case n == nil:
		v.AddNull("provisionedConcurrentExecutions")
	case *n < 1:
		v.Add(strconv.Itoa(*n), "provisionedConcurrentExecutions", "Member must have value greater than or equal to 1")
	}
	if err := v.Err(); err != nil {
		return err
	}
	if refErr != nil {
		return refErr
	}
	if ref.Qualifier == lambada.LatestVersion {
		return lambada.ErrProvisionedLatest
	}
	if _, err := s.provisionedFunction(r, ref.Name, ref.Qualifier); err != nil {
		return err
	}
	others, unlock, err := s.holdOthers(r.Context(), ref.Name)
	if err != nil {
		return err
	}
	defer unlock()
	pc := lambada.ProvisionedConfig{Qualifier: ref.Qualifier, Requested: *req.ProvisionedConcurrentExecutions, LastModified: s.Now()}
	f, err := s.mutate(r.Context(), ref.Name, ref.Qualifier, func(f *lambada.Function) error {
		if err := s.checkProvisionedTarget(r.Context(), f.Name, f, pc.Qualifier); err != nil {
			return err
		}
		if err := lambada.CheckProvisioned(f, pc.Qualifier, pc.Requested, s.accountConcurrency(), others); err != nil {
			return err
		}
		f.PutProvisioned(pc)
		return nil
	})
	if err != nil {
		return err
	}
	s.apply(r.Context(), f.Name)
	return writeJSON(w, http.StatusAccepted, s.renderProvisioned(f, &pc))
}

// getProvisioned handles GetProvisionedConcurrencyConfig.
func (s *Server) getProvisioned(w http.ResponseWriter, r *http.Request) error {
	ref, err := s.parseProvisionedTarget(r)
	if err != nil {
		return err
	}
	f, err := s.provisionedFunction(r, ref.Name, ref.Qualifier)
	if err != nil {
		return err
	}
	pc := f.ProvisionedConfig(ref.Qualifier)
	if pc == nil {
		return lambada.ErrNoProvisioned
	}
	return writeJSON(w, http.StatusOK, s.renderProvisioned(f, pc))
}

// parseProvisionedTarget parses the request of Get and Delete, which refuse
// $LATEST.
func (s *Server) parseProvisionedTarget(r *http.Request) (lambada.FunctionRef, error) {
	var v lambada.Validation
	ref, refErr := s.provisionedRef(&v, r)
	if err := v.Err(); err != nil {
		return ref, err
	}
	if refErr != nil {
		return ref, refErr
	}
	if ref.Qualifier == lambada.LatestVersion {
		return ref, lambada.Errorf(lambada.EINVALID, "The function resource provided must be an alias or a published version.")
	}
	return ref, nil
}

// deleteProvisioned handles DeleteProvisionedConcurrencyConfig: 204, also
// when the version or alias has none.
func (s *Server) deleteProvisioned(w http.ResponseWriter, r *http.Request) error {
	ref, err := s.parseProvisionedTarget(r)
	if err != nil {
		return err
	}
	if _, err := s.provisionedFunction(r, ref.Name, ref.Qualifier); err != nil {
		return err
	}
	return s.remove(w, r, ref.Name, ref.Qualifier, func(f *lambada.Function) bool {
		return f.DeleteProvisioned(ref.Qualifier)
	})
}

// listProvisioned handles ListProvisionedConcurrencyConfigs, sorted by
// qualifier; a Marker is the base64 of the last qualifier returned.
func (s *Server) listProvisioned(w http.ResponseWriter, r *http.Request) error {
	f, after, maxItems, err := s.functionPage(r, maxProvisionedListItems, nil)
	if err != nil {
		return err
	}
	configs, next := page(f.Provisioned, func(pc *lambada.ProvisionedConfig) string { return pc.Qualifier }, after, maxItems, nil)
	out := listProvisionedResponse{ProvisionedConcurrencyConfigs: make([]*provisionedConfig, 0, len(configs)), NextMarker: next}
	for _, pc := range configs {
		item := s.renderProvisioned(f, pc)
		item.FunctionArn = lambada.FunctionARN(s.Region, s.account(r.Context()), f.Name, pc.Qualifier)
		out.ProvisionedConcurrencyConfigs = append(out.ProvisionedConcurrencyConfigs, item)
	}
	return writeJSON(w, http.StatusOK, &out)
}
