package lambdaapi

import (
	"context"
	"net/http"

	"github.com/lambada-dev/lambada"
)

// maxEventInvokeListItems is ListFunctionEventInvokeConfigs' MaxItems limit.
const maxEventInvokeListItems = 50

// eventInvokeRequest is the body of Put and Update.
type eventInvokeRequest struct {
	MaximumRetryAttempts     *int
	MaximumEventAgeInSeconds *int
	DestinationConfig        *struct {
		OnSuccess *destination
		OnFailure *destination
	}
}

type destination struct {
	Destination *string `json:"Destination,omitempty"`
}

// settings returns the members the request gives.
func (req *eventInvokeRequest) settings() *lambada.EventInvokeSettings {
	s := &lambada.EventInvokeSettings{MaximumRetryAttempts: req.MaximumRetryAttempts, MaximumEventAgeInSeconds: req.MaximumEventAgeInSeconds}
	if dc := req.DestinationConfig; dc != nil {
		if dc.OnSuccess != nil {
			s.OnSuccess = dc.OnSuccess.Destination
		}
		if dc.OnFailure != nil {
			s.OnFailure = dc.OnFailure.Destination
		}
	}
	return s
}

// eventInvokeConfig is FunctionEventInvokeConfig as AWS renders it.
type eventInvokeConfig struct {
	LastModified             float64 `json:"LastModified"` // epoch seconds
	FunctionArn              string  `json:"FunctionArn"`
	MaximumRetryAttempts     *int    `json:"MaximumRetryAttempts,omitempty"`
	MaximumEventAgeInSeconds *int    `json:"MaximumEventAgeInSeconds,omitempty"`
	DestinationConfig        struct {
		OnSuccess destination `json:"OnSuccess"`
		OnFailure destination `json:"OnFailure"`
	} `json:"DestinationConfig"`
}

type listEventInvokeResponse struct {
	FunctionEventInvokeConfigs []*eventInvokeConfig `json:"FunctionEventInvokeConfigs"`
	NextMarker                 string               `json:"NextMarker,omitempty"`
}

// routeEventInvoke registers the EventInvokeConfig operations.
func (s *Server) routeEventInvoke(handle func(string, func(http.ResponseWriter, *http.Request) error)) {
	const path = "/2019-09-25/functions/{name}/event-invoke-config"
	handle("PUT "+path, func(w http.ResponseWriter, r *http.Request) error { return s.putEventInvoke(w, r, true) })
	handle("POST "+path, func(w http.ResponseWriter, r *http.Request) error { return s.putEventInvoke(w, r, false) })
	handle("GET "+path, s.getEventInvoke)
	handle("DELETE "+path, s.deleteEventInvoke)
	handle("GET "+path+"/list", s.listEventInvoke)
}

var errNoFunction = lambada.Errorf(lambada.ENOTFOUND, "The function doesn't exist.")

// eventInvokeRef parses {name} and Qualifier; an unqualified name means
// $LATEST.
func (s *Server) eventInvokeRef(v *lambada.Validation, r *http.Request) (lambada.FunctionRef, error) {
	ref, mismatch := lambada.ParseFunctionRef(v, r.PathValue("name"), qualifierParam(r))
	if ref.Name == "" {
		return ref, nil
	}
	if err := ref.CheckRegion(s.Region, s.account(r.Context())); err != nil {
		return ref, err
	}
	ref.Qualifier = ref.VersionOrLatest()
	return ref, mismatch
}

// eventInvokeFunction reads the function and checks that it has the
// version or alias ref names.
func (s *Server) eventInvokeFunction(ctx context.Context, ref lambada.FunctionRef) (*lambada.Function, error) {
	f, err := s.Functions.Function(ctx, s.key(ctx, ref.Name))
	if lambada.ErrorCode(err) == lambada.ENOTFOUND {
		return nil, errNoFunction
	} else if err != nil {
		return nil, err
	}
	if err := checkQualifierExists(f, ref.Qualifier); err != nil {
		return nil, err
	}
	return f, nil
}

func checkQualifierExists(f *lambada.Function, q string) error {
	switch {
	case q == lambada.LatestVersion:
	case lambada.IsVersionNumber(q):
		if f.Version(q) == nil {
			return errNoFunction
		}
	case f.Alias(q) == nil:
		return errNoFunction
	}
	return nil
}

// noEventInvokeConfig is the 404 for a qualifier without a configuration.
func (s *Server) noEventInvokeConfig(ctx context.Context, ref lambada.FunctionRef) error {
	return lambada.Errorf(lambada.ENOTFOUND, "The function %s doesn't have an EventInvokeConfig", lambada.FunctionARN(s.Region, s.account(ctx), ref.Name, ref.Qualifier))
}

// putEventInvoke handles PutFunctionEventInvokeConfig (replace) and
// UpdateFunctionEventInvokeConfig (merge into an existing configuration).
func (s *Server) putEventInvoke(w http.ResponseWriter, r *http.Request, replace bool) error {
	op := "UpdateFunctionEventInvokeConfig"
	if replace {
		op = "PutFunctionEventInvokeConfig"
	}
	var req eventInvokeRequest
	if err := decodeBody(r, op, &req); err != nil {
		return err
	}
	settings := req.settings()
	var v lambada.Validation
	ref, refErr := s.eventInvokeRef(&v, r)
	settings.Validate(&v)
	if err := v.Err(); err != nil {
		return err
	}
	if refErr != nil {
		return refErr
	}
	if replace && settings.Empty() {
		return lambada.ErrNoEventInvokeSettings
	}
	ctx := r.Context()
	target, err := s.eventInvokeFunction(ctx, ref)
	if err != nil {
		return err
	}
	role := target.Latest.Role
	if cfg, err := s.qualified(target, ref.Qualifier); err == nil {
		role = cfg.Role
	}
	if err := s.checkDestinations(ctx, ref.Name, role, settings); err != nil {
		return err
	}
	var stored lambada.EventInvokeConfig
	f, err := s.mutate(ctx, ref.Name, ref.Qualifier, func(f *lambada.Function) error {
		if err := checkQualifierExists(f, ref.Qualifier); err != nil {
			return err
		}
		c := lambada.EventInvokeConfig{Qualifier: ref.Qualifier}
		if old := f.EventInvokeConfig(ref.Qualifier); !replace {
			if old == nil {
				return s.noEventInvokeConfig(ctx, ref)
			}
			c = old.Clone()
		}
		settings.Apply(&c)
		c.LastModified = s.Now()
		f.PutEventInvokeConfig(c)
		stored = c
		return nil
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, s.renderEventInvoke(f, &stored))
}

// checkDestinations answers AWS's errors for destinations Lambada cannot
// deliver to: the function itself, a function that does not exist, a
// service other than Lambda and SQS.
func (s *Server) checkDestinations(ctx context.Context, self, role string, settings *lambada.EventInvokeSettings) error {
	onSuccess, onFailure := "", ""
	if settings.OnSuccess != nil {
		onSuccess = *settings.OnSuccess
	}
	if settings.OnFailure != nil {
		onFailure = *settings.OnFailure
	}
	for _, dest := range []string{onSuccess, onFailure} {
		if dest == "" {
			continue
		}
		kind, ref := lambada.ParseDestination(dest)
		switch kind {
		case lambada.DestinationSQS:
			if err := s.roleMay(role, "sqs:SendMessage", dest,
				lambada.Errorf(lambada.EINVALID, "The function's execution role does not have permissions to call SendMessage on %s", dest)); err != nil {
				return err
			}
		case lambada.DestinationLambda:
			if err := s.roleMay(role, "lambda:InvokeFunction", dest,
				lambada.Errorf(lambada.EINVALID, "The function's execution role does not have permissions to call InvokeFunction on %s", dest)); err != nil {
				return err
			}
			if ref.Name == self {
				return lambada.Errorf(lambada.EINVALID, "You can't specify the function as a destination for itself.")
			}
			if ref.CheckRegion(s.Region, s.account(ctx)) != nil {
				return lambada.Errorf(lambada.EINVALID, "The destination ARN %s is invalid.", dest)
			}
			f, err := s.Functions.Function(ctx, s.key(ctx, ref.Name))
			if lambada.ErrorCode(err) == lambada.ENOTFOUND {
				return lambada.Errorf(lambada.EINVALID, "The destination ARN %s is invalid.", dest)
			} else if err != nil {
				return err
			}
			if checkQualifierExists(f, ref.VersionOrLatest()) != nil {
				return lambada.Errorf(lambada.EINVALID, "The destination ARN %s is invalid.", dest)
			}
		default:
			return lambada.InvalidDestinationConfig(onSuccess, onFailure)
		}
	}
	return nil
}

// renderEventInvoke renders c, a configuration of the function f.
func (s *Server) renderEventInvoke(f *lambada.Function, c *lambada.EventInvokeConfig) *eventInvokeConfig {
	out := &eventInvokeConfig{
		LastModified:             float64(c.LastModified.UnixMilli()) / 1000,
		FunctionArn:              s.arn(f, c.Qualifier),
		MaximumRetryAttempts:     c.MaximumRetryAttempts,
		MaximumEventAgeInSeconds: c.MaximumEventAgeInSeconds,
	}
	if c.OnSuccess != "" {
		out.DestinationConfig.OnSuccess.Destination = &c.OnSuccess
	}
	if c.OnFailure != "" {
		out.DestinationConfig.OnFailure.Destination = &c.OnFailure
	}
	return out
}

// parseEventInvokeTarget parses Get's and Delete's request and reads the
// function.
func (s *Server) parseEventInvokeTarget(r *http.Request) (lambada.FunctionRef, *lambada.Function, error) {
	var v lambada.Validation
	ref, refErr := s.eventInvokeRef(&v, r)
	if err := v.Err(); err != nil {
		return ref, nil, err
	}
	if refErr != nil {
		return ref, nil, refErr
	}
	f, err := s.eventInvokeFunction(r.Context(), ref)
	return ref, f, err
}

// getEventInvoke handles GetFunctionEventInvokeConfig.
func (s *Server) getEventInvoke(w http.ResponseWriter, r *http.Request) error {
	ref, f, err := s.parseEventInvokeTarget(r)
	if err != nil {
		return err
	}
	c := f.EventInvokeConfig(ref.Qualifier)
	if c == nil {
		return s.noEventInvokeConfig(r.Context(), ref)
	}
	return writeJSON(w, http.StatusOK, s.renderEventInvoke(f, c))
}

// deleteEventInvoke handles DeleteFunctionEventInvokeConfig: 204, or 404
// when the qualifier has no configuration.
func (s *Server) deleteEventInvoke(w http.ResponseWriter, r *http.Request) error {
	ref, f, err := s.parseEventInvokeTarget(r)
	if err != nil {
		return err
	}
	if f.EventInvokeConfig(ref.Qualifier) == nil {
		return s.noEventInvokeConfig(r.Context(), ref)
	}
	return s.remove(w, r, ref.Name, ref.Qualifier, func(f *lambada.Function) bool {
		return f.DeleteEventInvokeConfig(ref.Qualifier)
	})
}

// listEventInvoke handles ListFunctionEventInvokeConfigs, sorted by
// qualifier.
func (s *Server) listEventInvoke(w http.ResponseWriter, r *http.Request) error {
	f, after, maxItems, err := s.functionPage(r, maxEventInvokeListItems, nil)
	if lambada.ErrorCode(err) == lambada.ENOTFOUND {
		return errNoFunction
	} else if err != nil {
		return err
	}
	configs, next := page(f.EventInvokeConfigs, func(c *lambada.EventInvokeConfig) string { return c.Qualifier }, after, maxItems, nil)
	out := listEventInvokeResponse{FunctionEventInvokeConfigs: make([]*eventInvokeConfig, 0, len(configs)), NextMarker: next}
	for _, c := range configs {
		out.FunctionEventInvokeConfigs = append(out.FunctionEventInvokeConfigs, s.renderEventInvoke(f, c))
	}
	return writeJSON(w, http.StatusOK, &out)
}
