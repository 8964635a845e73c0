package lambdaapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"github.com/google/uuid"
	"github.com/lambada-dev/lambada"
)

// routePolicies registers AddPermission, RemovePermission and GetPolicy.
func (s *Server) routePolicies(handle func(string, func(http.ResponseWriter, *http.Request) error)) {
	handle("POST /2015-03-31/functions/{name}/policy", s.addPermission)
	handle("DELETE /2015-03-31/functions/{name}/policy/{sid}", s.removePermission)
	handle("GET /2015-03-31/functions/{name}/policy", s.getPolicy)
}

// addPermissionRequest is AddPermission's body.
type addPermissionRequest struct {
	StatementId         *string
	Action              *string
	Principal           *string
	SourceArn           *string
	SourceAccount       *string
	PrincipalOrgID      *string
	FunctionUrlAuthType *string
	EventSourceToken    *string
	RevisionId          string
}

// The API model's patterns of AddPermission's members.
const (
	statementIDPattern = `([a-zA-Z0-9-_]+)`
	permissionPattern  = `(lambda:[*]|lambda:[a-zA-Z]+|[*])`
	principalPattern   = `[^\s]+`
)

var (
	statementIDRE = regexp.MustCompile(`^(?:` + statementIDPattern + `)$`)
	permissionRE  = regexp.MustCompile(`^(?:` + permissionPattern + `)$`)
	principalRE   = regexp.MustCompile(`^(?:` + principalPattern + `)$`)
	accountIDRE   = regexp.MustCompile(`^\d{12}$`)
)

var errNoPolicy = lambada.Errorf(lambada.ENOTFOUND, "No policy is associated with the given resource.")

// policyTarget finds the configuration or alias a policy operation's
// qualifier names, and returns where its RevisionId is kept.
func (s *Server) policyTarget(f *lambada.Function, qualifier string) (*string, error) {
	switch {
	case qualifier == "":
		return &f.Latest.RevisionID, nil
	case lambada.IsVersionNumber(qualifier):
		if c := f.Version(qualifier); c != nil {
			return &c.RevisionID, nil
		}
	default:
		if a := f.Alias(qualifier); a != nil {
			return &a.RevisionID, nil
		}
	}
	return nil, s.notFoundIn(f, qualifier)
}

// addPermission handles AddPermission: POST …/functions/{name}/policy.
func (s *Server) addPermission(w http.ResponseWriter, r *http.Request) error {
	var req addPermissionRequest
	if err := decodeBody(r, "AddPermission", &req); err != nil {
		return err
	}
	var v lambada.Validation
	switch {
	case req.StatementId == nil:
		v.AddNull("statementId")
	case len(*req.StatementId) > 100:
		v.Add(*req.StatementId, "statementId", "Member must have length less than or equal to 100")
	case !statementIDRE.MatchString(*req.StatementId):
		v.Add(*req.StatementId, "statementId", "Member must satisfy regular expression pattern: "+statementIDPattern)
	}
	switch {
	case req.Action == nil:
		v.AddNull("action")
	case !permissionRE.MatchString(*req.Action):
		v.Add(*req.Action, "action", "Member must satisfy regular expression pattern: "+permissionPattern)
	}
	switch {
	case req.Principal == nil:
		v.AddNull("principal")
	case !principalRE.MatchString(*req.Principal):
		v.Add(*req.Principal, "principal", "Member must satisfy regular expression pattern: "+principalPattern)
	}
	if a := req.SourceAccount; a != nil && !accountIDRE.MatchString(*a) {
		v.Add(*a, "sourceAccount", `Member must satisfy regular expression pattern: \d{12}`)
	}
	if err := v.Err(); err != nil {
		return err
	}
	ref, err := s.parseRef(r)
	if err != nil {
		return err
	}
	if ref.Qualifier == lambada.LatestVersion {
		return lambada.Errorf(lambada.EINVALID, "We currently do not support adding policies for $LATEST.")
	}
	principal, ok := policyPrincipal(*req.Principal)
	if !ok {
		return lambada.Errorf(lambada.EINVALID, "The provided principal was invalid. Please check the principal and try again.")
	}
	statement := map[string]any{
		"Sid": *req.StatementId, "Effect": "Allow", "Principal": principal, "Action": *req.Action,
		"Resource": lambada.FunctionARN(s.Region, s.account(r.Context()), ref.Name, ref.Qualifier),
	}
	conditions := map[string]map[string]string{}
	cond := func(op, key string, value *string) {
		if value != nil {
			if conditions[op] == nil {
				conditions[op] = map[string]string{}
			}
			conditions[op][key] = *value
		}
	}
	cond("ArnLike", "AWS:SourceArn", req.SourceArn)
	cond("StringEquals", "AWS:SourceAccount", req.SourceAccount)
	cond("StringEquals", "aws:PrincipalOrgID", req.PrincipalOrgID)
	cond("StringEquals", "lambda:FunctionUrlAuthType", req.FunctionUrlAuthType)
	cond("StringEquals", "lambda:EventSourceToken", req.EventSourceToken)
	if len(conditions) > 0 {
		statement["Condition"] = conditions
	}
	b, err := json.Marshal(statement)
	if err != nil {
		return err
	}
	_, err = s.mutate(r.Context(), ref.Name, ref.Qualifier, func(f *lambada.Function) error {
		rev, err := s.policyTarget(f, ref.Qualifier)
		if err != nil {
			return err
		}
		if req.RevisionId != "" && req.RevisionId != *rev {
			return lambada.Errorf(lambada.EPRECONDITION, "The Revision Id provided does not match the latest Revision Id. Call the GetPolicy API to retrieve the latest Revision Id")
		}
		p := f.Policy(ref.Qualifier)
		if p.Has(*req.StatementId) {
			return lambada.Errorf(lambada.ECONFLICT, "The statement id (%s) provided already exists. Please provide a new statement id, or remove the existing statement.", *req.StatementId)
		}
		if p == nil {
			p = &lambada.ResourcePolicy{}
			if f.Policies == nil {
				f.Policies = map[string]*lambada.ResourcePolicy{}
			}
			f.Policies[ref.Qualifier] = p
		}
		p.Statements = append(p.Statements, string(b))
		if doc := p.Document(); len(doc) > maxPolicy {
			return &lambada.Error{Code: lambada.EPOLICYLENGTH, Message: fmt.Sprintf("The final policy size (%d) is bigger than the limit (%d).", len(doc), maxPolicy)}
		}
		*rev = uuid.NewString()
		p.RevisionID = *rev
		return nil
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, map[string]string{"Statement": string(b)})
}

// maxPolicy is the largest resource-based policy, in bytes.
const maxPolicy = 20480

// policyPrincipal is a statement's Principal for AddPermission's: "*", an
// account (its root), an IAM ARN, or a service; false: none of them.
func policyPrincipal(p string) (any, bool) {
	switch {
	case p == "*":
		return "*", true
	case accountIDRE.MatchString(p):
		return map[string]string{"AWS": "arn:aws:iam::" + p + ":root"}, true
	case strings.HasPrefix(p, "arn:aws:iam::"):
		return map[string]string{"AWS": p}, true
	case strings.HasSuffix(p, ".amazonaws.com") || strings.HasSuffix(p, ".amazonaws.com.cn"):
		return map[string]string{"Service": p}, true
	}
	return nil, false
}

// removePermission handles RemovePermission: DELETE
// …/functions/{name}/policy/{sid}.
func (s *Server) removePermission(w http.ResponseWriter, r *http.Request) error {
	ref, err := s.parseRef(r)
	if err != nil {
		return err
	}
	sid, revision := r.PathValue("sid"), r.URL.Query().Get("RevisionId")
	_, err = s.mutate(r.Context(), ref.Name, ref.Qualifier, func(f *lambada.Function) error {
		rev, err := s.policyTarget(f, ref.Qualifier)
		if err != nil {
			return err
		}
		p := f.Policy(ref.Qualifier)
		if p == nil {
			return errNoPolicy
		}
		if revision != "" && revision != *rev {
			return lambada.Errorf(lambada.EPRECONDITION, "The Revision Id provided does not match the latest Revision Id. Call the GetPolicy API to retrieve the latest Revision Id")
		}
		if !p.Remove(sid) {
			return lambada.Errorf(lambada.ENOTFOUND, "Statement %s is not found in resource policy.", sid)
		}
		if len(p.Statements) == 0 {
			delete(f.Policies, ref.Qualifier)
		}
		*rev = uuid.NewString()
		p.RevisionID = *rev
		return nil
	})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// getPolicy handles GetPolicy: GET …/functions/{name}/policy.
func (s *Server) getPolicy(w http.ResponseWriter, r *http.Request) error {
	ref, err := s.parseRef(r)
	if err != nil {
		return err
	}
	f, err := s.lookup(r.Context(), ref.Name, ref.Qualifier)
	if err != nil {
		return err
	}
	if _, err := s.policyTarget(f, ref.Qualifier); err != nil {
		return err
	}
	p := f.Policy(ref.Qualifier)
	if p == nil {
		return lambada.Errorf(lambada.ENOTFOUND, "The resource you requested does not exist.")
	}
	return writeJSON(w, http.StatusOK, map[string]string{"Policy": p.Document(), "RevisionId": p.RevisionID})
}
