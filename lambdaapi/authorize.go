package lambdaapi

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"github.com/lambada-dev/lambada"
)

// Authorizer decides whether the caller of a request (in its context) may
// perform an IAM action on a resource, whose resource-based policy (a
// document; "": none) is given: nil, or an EACCESSDENIED error with AWS's
// message.
type Authorizer interface {
	Authorize(ctx context.Context, action, resource, policy string) error
	// Account is the caller's account.
	Account(ctx context.Context) string
	// AuthorizeRole decides whether the execution role role (an IAM role
	// ARN) may perform action on resource: nil, or an error.
	AuthorizeRole(role, action, resource string) error
}

// actions maps each route to the IAM action it performs; a route not here
// needs no permission (a code link carries a signature of its own).
var actions = map[string]string{
	"POST /2015-03-31/functions":                                  "lambda:CreateFunction",
	"POST /2015-03-31/functions/{$}":                              "lambda:CreateFunction",
	"GET /2015-03-31/functions":                                   "lambda:ListFunctions",
	"GET /2015-03-31/functions/{$}":                               "lambda:ListFunctions",
	"GET /2015-03-31/functions/{name}":                            "lambda:GetFunction",
	"DELETE /2015-03-31/functions/{name}":                         "lambda:DeleteFunction",
	"GET /2015-03-31/functions/{name}/configuration":              "lambda:GetFunctionConfiguration",
	"PUT /2015-03-31/functions/{name}/configuration":              "lambda:UpdateFunctionConfiguration",
	"PUT /2015-03-31/functions/{name}/code":                       "lambda:UpdateFunctionCode",
	"POST /2015-03-31/functions/{name}/invocations":               "lambda:InvokeFunction",
	"GET /2015-03-31/functions/{name}/versions":                   "lambda:ListVersionsByFunction",
	"POST /2015-03-31/functions/{name}/versions":                  "lambda:PublishVersion",
	"GET /2015-03-31/functions/{name}/aliases":                    "lambda:ListAliases",
	"POST /2015-03-31/functions/{name}/aliases":                   "lambda:CreateAlias",
	"GET /2015-03-31/functions/{name}/aliases/{alias}":            "lambda:GetAlias",
	"PUT /2015-03-31/functions/{name}/aliases/{alias}":            "lambda:UpdateAlias",
	"DELETE /2015-03-31/functions/{name}/aliases/{alias}":         "lambda:DeleteAlias",
	"GET /2016-08-19/account-settings":                            "lambda:GetAccountSettings",
	"GET /2016-08-19/account-settings/{$}":                        "lambda:GetAccountSettings",
	"GET /2017-03-31/tags/{arn}":                                  "lambda:ListTags",
	"POST /2017-03-31/tags/{arn}":                                 "lambda:TagResource",
	"DELETE /2017-03-31/tags/{arn}":                               "lambda:UntagResource",
	"POST /2015-03-31/functions/{name}/policy":                    "lambda:AddPermission",
	"DELETE /2015-03-31/functions/{name}/policy/{sid}":            "lambda:RemovePermission",
	"GET /2015-03-31/functions/{name}/policy":                     "lambda:GetPolicy",
	"GET /2019-09-30/functions/{name}/concurrency":                "lambda:GetFunctionConcurrency",
	"PUT /2017-10-31/functions/{name}/concurrency":                "lambda:PutFunctionConcurrency",
	"DELETE /2017-10-31/functions/{name}/concurrency":             "lambda:DeleteFunctionConcurrency",
	"GET /2019-09-30/functions/{name}/provisioned-concurrency":    "lambda:GetProvisionedConcurrencyConfig",
	"PUT /2019-09-30/functions/{name}/provisioned-concurrency":    "lambda:PutProvisionedConcurrencyConfig",
	"DELETE /2019-09-30/functions/{name}/provisioned-concurrency": "lambda:DeleteProvisionedConcurrencyConfig",
	"GET /2019-09-25/functions/{name}/event-invoke-config":        "lambda:GetFunctionEventInvokeConfig",
	"GET /2019-09-25/functions/{name}/event-invoke-config/list":   "lambda:ListFunctionEventInvokeConfigs",
	"POST /2019-09-25/functions/{name}/event-invoke-config":       "lambda:PutFunctionEventInvokeConfig",
	"PUT /2019-09-25/functions/{name}/event-invoke-config":        "lambda:UpdateFunctionEventInvokeConfig",
	"DELETE /2019-09-25/functions/{name}/event-invoke-config":     "lambda:DeleteFunctionEventInvokeConfig",
	"POST /2018-10-31/layers/{name}/versions":                     "lambda:PublishLayerVersion",
	"GET /2018-10-31/layers/{name}/versions":                      "lambda:ListLayerVersions",
	"GET /2018-10-31/layers/{name}/versions/{version}":            "lambda:GetLayerVersion",
	"DELETE /2018-10-31/layers/{name}/versions/{version}":         "lambda:DeleteLayerVersion",
	"GET /2018-10-31/layers":                                      "lambda:ListLayers",
}

// authorize checks that the caller of r may perform the action of route
// pattern on the resource r names.
func (s *Server) authorize(pattern string, r *http.Request) error {
	action, ok := actions[pattern]
	if !ok || s.Authorizer == nil || action == "lambda:CreateFunction" {
		return nil // CreateFunction is decided on its function's ARN, once its body is read
	}
	q := r.URL.Query()
	switch {
	case pattern == "GET /2019-09-30/functions/{name}/provisioned-concurrency" && q.Has("List"):
		action = "lambda:ListProvisionedConcurrencyConfigs"
	case pattern == "GET /2018-10-31/layers" && q.Get("find") == "LayerVersion":
		action = "lambda:GetLayerVersion"
	}
	resource, function, qualifier := s.resourceOf(pattern, r)
	policy := ""
	if function != "" {
		if f, err := s.Functions.Function(r.Context(), s.key(r.Context(), function)); err == nil {
			if p := f.Policy(qualifier); p != nil {
				policy = p.Document()
			}
		}
	}
	return s.Authorizer.Authorize(r.Context(), action, resource, policy)
}

// passRole checks, when role is given, that the caller may pass it to a
// function (iam:PassRole on the role): its environments act with the
// role's credentials, so a caller may not give a function a role it could
// not act as. A role of another account is refused as IAM refuses it.
func (s *Server) passRole(ctx context.Context, role *string) error {
	if s.Authorizer == nil || role == nil {
		return nil
	}
	// arn:aws:iam::<account>:role/<name>, validated before: the role must
	// be of the function's account.
	if parts := strings.SplitN(*role, ":", 6); len(parts) != 6 || parts[4] != s.account(ctx) {
		return &lambada.Error{Code: lambada.EACCESSDENIED, Message: "Cross-account pass role is not allowed."}
	}
	return s.Authorizer.Authorize(ctx, "iam:PassRole", *role, "")
}

// roleMay checks, with an Authorizer, that a function's execution role may
// perform action on resource, as its dead letters and destination records
// will need: refusal when it may not.
func (s *Server) roleMay(role, action, resource string, refusal error) error {
	if s.Authorizer == nil || s.Authorizer.AuthorizeRole(role, action, resource) == nil {
		return nil
	}
	return refusal
}

// authorizeOn asks the Authorizer, when there is one, whether the caller
// may perform action on resource (no resource-based policy): for the
// checks a handler makes once it has read its request.
func (s *Server) authorizeOn(ctx context.Context, action, resource string) error {
	if s.Authorizer == nil {
		return nil
	}
	return s.Authorizer.Authorize(ctx, action, resource, "")
}

// qualifiedRoutes act on the version or alias their FunctionName or
// Qualifier names (and an alias route on its alias); every other route
// acts on the function as a whole, and is decided on the unqualified
// function whatever qualifier the request carries.
var qualifiedRoutes = map[string]bool{
	"GET /2015-03-31/functions/{name}":                            true,
	"GET /2015-03-31/functions/{name}/configuration":              true,
	"DELETE /2015-03-31/functions/{name}":                         true,
	"POST /2015-03-31/functions/{name}/invocations":               true,
	"POST /2015-03-31/functions/{name}/policy":                    true,
	"DELETE /2015-03-31/functions/{name}/policy/{sid}":            true,
	"GET /2015-03-31/functions/{name}/policy":                     true,
	"GET /2019-09-30/functions/{name}/provisioned-concurrency":    true,
	"PUT /2019-09-30/functions/{name}/provisioned-concurrency":    true,
	"DELETE /2019-09-30/functions/{name}/provisioned-concurrency": true,
	"GET /2019-09-25/functions/{name}/event-invoke-config":        true,
	"POST /2019-09-25/functions/{name}/event-invoke-config":       true,
	"PUT /2019-09-25/functions/{name}/event-invoke-config":        true,
	"DELETE /2019-09-25/functions/{name}/event-invoke-config":     true,
}

// resourceOf is the ARN a request acts on, as IAM sees it, always in its
// canonical form (whatever partition or form the request wrote): the
// function (qualified when the route acts on the version or alias the
// request names), the layer (version), the tagged function, or "*"; and
// for a function, its name and that qualifier.
func (s *Server) resourceOf(pattern string, r *http.Request) (arn, function, qualifier string) {
	ctx := r.Context()
	switch {
	case strings.Contains(pattern, "{arn}"):
		// Parsed as the tag handlers parse it.
		ref, err := lambada.ParseTaggable(r.PathValue("arn"))
		if err != nil {
			return "*", "", "" // refused by the handler
		}
		return lambada.FunctionARN(s.Region, s.account(ctx), ref.Name, ""), "", ""
	case strings.HasPrefix(pattern, "GET /2018-10-31/layers") && r.URL.Query().Get("find") == "LayerVersion":
		ref, _ := lambada.ParseLayerVersionARN(r.URL.Query().Get("Arn"))
		return lambada.LayerVersionARN(ref.Region, ref.Account, ref.Name, ref.Version), "", ""
	case strings.Contains(pattern, "/layers/{name}"):
		arn := lambada.LayerARN(s.Region, s.account(ctx), lambada.LayerName(r.PathValue("name")))
		if v := r.PathValue("version"); v != "" {
			// The number the handler reads, however it is written.
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return "*", "", "" // refused by the handler
			}
			arn += ":" + strconv.FormatInt(n, 10)
		}
		return arn, "", ""
	case strings.Contains(pattern, "{name}"):
		q := qualifierParam(r)
		honoured := qualifiedRoutes[pattern] && !r.URL.Query().Has("List")
		if !honoured {
			q = nil
		}
		var v lambada.Validation
		ref, _ := lambada.ParseFunctionRef(&v, r.PathValue("name"), q)
		qualifier := ref.Qualifier
		if !honoured {
			qualifier = ""
		}
		if a := r.PathValue("alias"); a != "" {
			qualifier = a
		}
		return lambada.FunctionARN(s.Region, s.account(ctx), ref.Name, qualifier), ref.Name, qualifier
	}
	return "*", "", ""
}
