package iam

import "strings"

// Request is what one call asks: who, what action, on which resource, and
// the values of the condition keys the call sets (aws:SourceArn, …).
type Request struct {
	Principal        string // the caller's ARN (arn:aws:iam::<account>:user/…, …:role/…)
	PrincipalAccount string // the caller's account
	Service          string // a service principal calling (s3.amazonaws.com), if the caller is one
	Action           string // service:Operation, as lambda:InvokeFunction
	Resource         string // the resource's ARN, as the call names it
	ResourceAccount  string // the account the resource belongs to
	Context          map[string]string
}

// Decision is the outcome of an evaluation.
type Decision int

const (
	ImplicitDeny Decision = iota // nothing allows it
	Allowed
	ExplicitDeny // a statement denies it
)

// Result is a decision and, for a denial, AWS's reason: the words after
// "… on resource: <arn> " in an AccessDeniedException.
type Result struct {
	Decision Decision
	Reason   string
}

// Evaluate decides req as IAM does, given the caller's identity-based
// policies and the resource's resource-based policies. A statement that
// denies wins over every allow. Within one account, an allow of either
// kind suffices; across accounts, both the caller's identity-based policy
// and the resource's policy must allow.
func Evaluate(req Request, identity, resource []Policy) Result {
	idAllow, idDeny := decide(req, identity, false)
	resAllow, resDeny := decide(req, resource, true)
	switch {
	case idDeny:
		return Result{ExplicitDeny, "with an explicit deny in an identity-based policy"}
	case resDeny:
		return Result{ExplicitDeny, "with an explicit deny in a resource-based policy"}
	}
	sameAccount := req.PrincipalAccount != "" && req.PrincipalAccount == req.ResourceAccount
	switch {
	case sameAccount && (idAllow || resAllow):
		return Result{Decision: Allowed}
	case !sameAccount && req.Service != "" && resAllow:
		return Result{Decision: Allowed} // a service principal has no identity policies
	case !sameAccount && idAllow && resAllow:
		return Result{Decision: Allowed}
	case !sameAccount && idAllow:
		return Result{ImplicitDeny, "because no resource-based policy allows the " + req.Action + " action"}
	}
	return Result{ImplicitDeny, "because no identity-based policy allows the " + req.Action + " action"}
}

// Message is AWS's AccessDeniedException text for a denied req.
func (r Result) Message(req Request) string {
	who := req.Principal
	if who == "" {
		who = req.Service
	}
	return "User: " + who + " is not authorized to perform: " + req.Action + " on resource: " + req.Resource + " " + r.Reason
}

// decide reports whether a statement of policies allows req and whether
// one denies it; for resource-based policies (byPrincipal) a statement
// applies only to the principals it names.
func decide(req Request, policies []Policy, byPrincipal bool) (allow, deny bool) {
	for _, p := range policies {
		for _, st := range p.Statement {
			if !applies(req, st, byPrincipal) {
				continue
			}
			if st.Effect == Deny {
				deny = true
			} else {
				allow = true
			}
		}
	}
	return allow, deny
}

// applies reports whether st covers req: its principal, action, resource
// and conditions.
func applies(req Request, st Statement, byPrincipal bool) bool {
	if byPrincipal && (st.Principal == nil || !principalMatches(req, *st.Principal)) {
		return false
	}
	if st.Action != nil && !anyMatch(st.Action, req.Action, true) {
		return false
	}
	if st.NotAction != nil && anyMatch(st.NotAction, req.Action, true) {
		return false
	}
	if st.Resource != nil && !anyMatch(st.Resource, req.Resource, false) {
		return false
	}
	if st.NotResource != nil && anyMatch(st.NotResource, req.Resource, false) {
		return false
	}
	return conditionsHold(st.Condition, req.Context)
}

// principalMatches reports whether a resource-based statement's principal
// names req's caller: anyone, its account (an id or the account's root
// ARN), its ARN, or its service.
func principalMatches(req Request, p Principal) bool {
	if p.Any {
		return true
	}
	for _, a := range p.AWS {
		switch {
		case a == "*", a == req.Principal && a != "":
			return true
		case req.PrincipalAccount != "" && (a == req.PrincipalAccount || a == "arn:aws:iam::"+req.PrincipalAccount+":root"):
			return true
		}
	}
	for _, s := range p.Service {
		if req.Service != "" && strings.EqualFold(s, req.Service) {
			return true
		}
	}
	return false
}

// anyMatch reports whether value matches one of patterns (wildcards * and
// ?), ignoring case for actions.
func anyMatch(patterns []string, value string, foldCase bool) bool {
	for _, p := range patterns {
		if foldCase {
			if Glob(strings.ToLower(p), strings.ToLower(value)) {
				return true
			}
		} else if Glob(p, value) {
			return true
		}
	}
	return false
}
