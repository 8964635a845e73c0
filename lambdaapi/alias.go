package lambdaapi

import (
	"maps"
	"net/http"

	"github.com/google/uuid"
	"github.com/lambada-dev/lambada"
)

// routeAliases registers the alias operations.
func (s *Server) routeAliases(handle func(string, func(http.ResponseWriter, *http.Request) error)) {
	handle("POST /2015-03-31/functions/{name}/aliases", s.createAlias)
	handle("GET /2015-03-31/functions/{name}/aliases", s.listAliases)
	handle("GET /2015-03-31/functions/{name}/aliases/{alias}", s.getAlias)
	handle("PUT /2015-03-31/functions/{name}/aliases/{alias}", s.updateAlias)
	handle("DELETE /2015-03-31/functions/{name}/aliases/{alias}", s.deleteAlias)
}

// aliasRequest is the body of CreateAlias (Name, FunctionVersion,
// Description, RoutingConfig) and UpdateAlias (the same but Name, and
// RevisionId).
type aliasRequest struct {
	Name            *string
	FunctionVersion *string
	Description     *string
	RoutingConfig   *routingConfigRequest
	RevisionId      string
}

// routingConfigRequest is RoutingConfig; a weight is nil when sent as null.
type routingConfigRequest struct {
	AdditionalVersionWeights map[string]*float64
}

// weights returns the request's AdditionalVersionWeights, nil without a
// RoutingConfig.
func (rc *routingConfigRequest) weights() map[string]*float64 {
	if rc == nil {
		return nil
	}
	return rc.AdditionalVersionWeights
}

// routing returns the weights of a request that passed validation; an
// empty RoutingConfig means no routing.
func (rc *routingConfigRequest) routing() lambada.Routing {
	if rc == nil || len(rc.AdditionalVersionWeights) == 0 {
		return nil
	}
	r := make(lambada.Routing, len(rc.AdditionalVersionWeights))
	for k, w := range rc.AdditionalVersionWeights {
		r[k] = *w
	}
	return r
}

// aliasConfiguration is the AliasConfiguration shape.
type aliasConfiguration struct {
	AliasArn        string                 `json:"AliasArn"`
	Name            string                 `json:"Name"`
	FunctionVersion string                 `json:"FunctionVersion"`
	Description     string                 `json:"Description"`
	RoutingConfig   *routingConfigResponse `json:"RoutingConfig,omitempty"`
	RevisionID      string                 `json:"RevisionId"`
}

type routingConfigResponse struct {
	AdditionalVersionWeights map[string]float64 `json:"AdditionalVersionWeights"`
}

type listAliasesResponse struct {
	Aliases    []*aliasConfiguration `json:"Aliases"`
	NextMarker string                `json:"NextMarker,omitempty"`
}

// aliasConfiguration renders alias a of the function f.
func (s *Server) aliasConfiguration(f *lambada.Function, a *lambada.Alias) *aliasConfiguration {
	out := &aliasConfiguration{
		AliasArn:        s.arn(f, a.Name),
		Name:            a.Name,
		FunctionVersion: a.FunctionVersion,
		Description:     a.Description,
		RevisionID:      a.RevisionID,
	}
	if len(a.Routing) > 0 {
		out.RoutingConfig = &routingConfigResponse{AdditionalVersionWeights: maps.Clone(a.Routing)}
	}
	return out
}

// checkTarget returns the error for an alias of f pointing to a version that
// does not exist: a 404 naming it.
func (s *Server) checkTarget(f *lambada.Function, target string) error {
	if target != lambada.LatestVersion && (!lambada.IsVersionNumber(target) || f.Version(target) == nil) {
		return s.notFoundIn(f, target)
	}
	return nil
}

// checkRouting returns the Lambda service's error for an alias of f that
// points to target and routes by weights: a routing AWS refuses, or a
// routed version that does not exist (404 naming it).
func (s *Server) checkRouting(f *lambada.Function, target string, weights lambada.Routing) error {
	if err := lambada.CheckRouting(target, weights); err != nil {
		return err
	}
	for v := range weights {
		if f.Version(v) == nil {
			return s.notFoundIn(f, v)
		}
	}
	return nil
}

// validateAliasBody adds the violations of an alias request's body to v.
func validateAliasBody(v *lambada.Validation, req *aliasRequest) {
	if req.FunctionVersion != nil {
		lambada.ValidateAliasVersion(v, *req.FunctionVersion)
	}
	validateDescription(v, req.Description)
	lambada.ValidateRoutingWeights(v, req.RoutingConfig.weights())
}

// parseAliasRef validates the {name} and {alias} of GetAlias, UpdateAlias
// and DeleteAlias, adding violations to v.
func (s *Server) parseAliasRef(v *lambada.Validation, r *http.Request) (lambada.FunctionRef, string, error) {
	ref, err := s.parseUpdateRef(v, r)
	alias := r.PathValue("alias")
	lambada.ValidateAliasName(v, alias)
	return ref, alias, err
}

// createAlias handles CreateAlias: POST /2015-03-31/functions/{name}/aliases.
func (s *Server) createAlias(w http.ResponseWriter, r *http.Request) error {
	var req aliasRequest
	if err := decodeBody(r, "CreateAlias", &req); err != nil {
		return err
	}
	var v lambada.Validation
	ref, refErr := s.parseUpdateRef(&v, r)
	if req.Name == nil {
		v.AddNull("name")
	} else {
		lambada.ValidateAliasName(&v, *req.Name)
	}
	if req.FunctionVersion == nil {
		v.AddNull("functionVersion")
	}
	validateAliasBody(&v, &req)
	if err := v.Err(); err != nil {
		return err
	}
	if refErr != nil {
		return refErr
	}
	a := lambada.Alias{
		Name:            *req.Name,
		FunctionVersion: *req.FunctionVersion,
		Routing:         req.RoutingConfig.routing(),
	}
	if req.Description != nil {
		a.Description = *req.Description
	}
	// A missing function is reported with the version the alias targets.
	f, err := s.mutate(r.Context(), ref.Name, a.FunctionVersion, func(f *lambada.Function) error {
		if err := s.checkTarget(f, a.FunctionVersion); err != nil {
			return err
		}
		if f.Alias(a.Name) != nil {
			return lambada.Errorf(lambada.ECONFLICT, "Alias already exists: %s", s.arn(f, a.Name))
		}
		if err := s.checkRouting(f, a.FunctionVersion, a.Routing); err != nil {
			return err
		}
		a.RevisionID = uuid.NewString()
		f.PutAlias(a)
		return nil
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, s.aliasConfiguration(f, &a))
}

// getAlias handles GetAlias: GET /2015-03-31/functions/{name}/aliases/{alias}.
func (s *Server) getAlias(w http.ResponseWriter, r *http.Request) error {
	var v lambada.Validation
	ref, alias, refErr := s.parseAliasRef(&v, r)
	if err := v.Err(); err != nil {
		return err
	}
	if refErr != nil {
		return refErr
	}
	f, err := s.lookup(r.Context(), ref.Name, "")
	if err != nil {
		return err
	}
	a := f.Alias(alias)
	if a == nil {
		return lambada.Errorf(lambada.ENOTFOUND, "Cannot find alias arn: %s", s.arn(f, alias))
	}
	return writeJSON(w, http.StatusOK, s.aliasConfiguration(f, a))
}

// updateAlias handles UpdateAlias: PUT /2015-03-31/functions/{name}/aliases/{alias}.
// Members not given keep their values; an empty RoutingConfig removes the
// routing. Every update, even one that changes nothing, sets a new
// RevisionId.
func (s *Server) updateAlias(w http.ResponseWriter, r *http.Request) error {
	var req aliasRequest
	if err := decodeBody(r, "UpdateAlias", &req); err != nil {
		return err
	}
	var v lambada.Validation
	ref, alias, refErr := s.parseAliasRef(&v, r)
	validateAliasBody(&v, &req)
	if err := v.Err(); err != nil {
		return err
	}
	if refErr != nil {
		return refErr
	}
	var out lambada.Alias
	f, err := s.mutate(r.Context(), ref.Name, "", func(f *lambada.Function) error {
		cur := f.Alias(alias)
		if cur == nil {
			return lambada.Errorf(lambada.ENOTFOUND, "Alias not found: %s", s.arn(f, alias))
		}
		if req.RevisionId != "" && req.RevisionId != cur.RevisionID {
			return errRevision
		}
		a := cur.Clone()
		if req.FunctionVersion != nil {
			a.FunctionVersion = *req.FunctionVersion
			if err := s.checkTarget(f, a.FunctionVersion); err != nil {
				return err
			}
		}
		if req.Description != nil {
			a.Description = *req.Description
		}
		if req.RoutingConfig != nil {
			a.Routing = req.RoutingConfig.routing()
		}
		if req.FunctionVersion != nil || req.RoutingConfig != nil {
			if err := s.checkRouting(f, a.FunctionVersion, a.Routing); err != nil {
				return err
			}
			if f.ProvisionedConfig(a.Name) != nil {
				if err := lambada.CheckProvisionedAlias(f, &a); err != nil {
					return err
				}
			}
		}
		a.RevisionID = uuid.NewString()
		f.PutAlias(a)
		out = a
		return nil
	})
	if err != nil {
		return err
	}
	s.apply(r.Context(), f.Name)
	return writeJSON(w, http.StatusOK, s.aliasConfiguration(f, &out))
}

// deleteAlias handles DeleteAlias:
// DELETE /2015-03-31/functions/{name}/aliases/{alias}. Deleting an alias
// that does not exist succeeds too.
func (s *Server) deleteAlias(w http.ResponseWriter, r *http.Request) error {
	var v lambada.Validation
	ref, alias, refErr := s.parseAliasRef(&v, r)
	if err := v.Err(); err != nil {
		return err
	}
	if refErr != nil {
		return refErr
	}
	return s.remove(w, r, ref.Name, "", func(f *lambada.Function) bool {
		f.DeleteProvisioned(alias)
		return f.DeleteAlias(alias)
	})
}

// listAliases handles ListAliases: GET /2015-03-31/functions/{name}/aliases,
// sorted by name, optionally only those whose FunctionVersion is the
// FunctionVersion parameter. A Marker is the base64 of the last name returned.
func (s *Server) listAliases(w http.ResponseWriter, r *http.Request) error {
	version, filtered := r.URL.Query()["FunctionVersion"]
	f, after, maxItems, err := s.functionPage(r, maxMaxItems, func(v *lambada.Validation) {
		if filtered {
			lambada.ValidateAliasVersion(v, version[0])
		}
	})
	if err != nil {
		return err
	}
	aliases, next := page(f.Aliases, func(a *lambada.Alias) string { return a.Name }, after, maxItems,
		func(a *lambada.Alias) bool { return !filtered || a.FunctionVersion == version[0] })
	out := listAliasesResponse{Aliases: make([]*aliasConfiguration, 0, len(aliases)), NextMarker: next}
	for _, a := range aliases {
		out.Aliases = append(out.Aliases, s.aliasConfiguration(f, a))
	}
	return writeJSON(w, http.StatusOK, &out)
}
