// Package iam holds the IAM policy language as Lambada needs it: policies
// (identity-based and resource-based) as their JSON reads, and their
// evaluation for one request, the way IAM evaluates them within an account
// and across accounts. It is a pure function of the request and the
// policies: no store, no clock, no network.
package iam

import (
	"encoding/json"
	"fmt"
)

// Policy is a policy document.
type Policy struct {
	Version   string     `json:"Version,omitempty"`
	ID        string     `json:"Id,omitempty"`
	Statement Statements `json:"Statement"`
}

// Statements is a policy's Statement: one statement or a list of them.
type Statements []Statement

// UnmarshalJSON reads one statement or a list.
func (s *Statements) UnmarshalJSON(b []byte) error {
	var list []Statement
	if err := json.Unmarshal(b, &list); err == nil {
		*s = list
		return nil
	}
	var one Statement
	if err := json.Unmarshal(b, &one); err != nil {
		return err
	}
	*s = Statements{one}
	return nil
}

// Effects of a statement.
const (
	Allow = "Allow"
	Deny  = "Deny"
)

// Statement is one statement of a policy. Principal is only in
// resource-based policies.
type Statement struct {
	Sid         string     `json:"Sid,omitempty"`
	Effect      string     `json:"Effect"`
	Principal   *Principal `json:"Principal,omitempty"`
	Action      Strings    `json:"Action,omitempty"`
	NotAction   Strings    `json:"NotAction,omitempty"`
	Resource    Strings    `json:"Resource,omitempty"`
	NotResource Strings    `json:"NotResource,omitempty"`
	// Condition maps an operator (StringEquals, ArnLike, …) to its keys
	// and each key's values.
	Condition map[string]map[string]Strings `json:"Condition,omitempty"`
}

// Strings is a JSON string or a list of them.
type Strings []string

// UnmarshalJSON reads a string or a list of strings.
func (s *Strings) UnmarshalJSON(b []byte) error {
	var list []string
	if err := json.Unmarshal(b, &list); err == nil {
		*s = list
		return nil
	}
	var one string
	if err := json.Unmarshal(b, &one); err != nil {
		return fmt.Errorf("iam: want a string or a list of strings: %s", b)
	}
	*s = Strings{one}
	return nil
}

// Principal is a resource-based statement's Principal: "*" (anyone), or
// AWS principals (ARNs, or account ids standing for every principal of the
// account) and service principals.
type Principal struct {
	Any     bool
	AWS     Strings
	Service Strings
}

// UnmarshalJSON reads "*" or {"AWS": …, "Service": …}.
func (p *Principal) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		if s != "*" {
			return fmt.Errorf("iam: a Principal string must be \"*\", not %q", s)
		}
		p.Any = true
		return nil
	}
	var m struct {
		AWS     Strings `json:"AWS"`
		Service Strings `json:"Service"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	p.AWS, p.Service = m.AWS, m.Service
	return nil
}

// MarshalJSON writes "*" or {"AWS": …, "Service": …}.
func (p Principal) MarshalJSON() ([]byte, error) {
	if p.Any {
		return []byte(`"*"`), nil
	}
	m := map[string]any{}
	if len(p.AWS) == 1 {
		m["AWS"] = p.AWS[0]
	} else if len(p.AWS) > 1 {
		m["AWS"] = p.AWS
	}
	if len(p.Service) == 1 {
		m["Service"] = p.Service[0]
	} else if len(p.Service) > 1 {
		m["Service"] = p.Service
	}
	return json.Marshal(m)
}

// Parse reads a policy document.
func Parse(doc []byte) (Policy, error) {
	var p Policy
	if err := json.Unmarshal(doc, &p); err != nil {
		return Policy{}, fmt.Errorf("iam: policy: %w", err)
	}
	for i, st := range p.Statement {
		if st.Effect != Allow && st.Effect != Deny {
			return Policy{}, fmt.Errorf("iam: statement %d: Effect %q is neither Allow nor Deny", i, st.Effect)
		}
		if (st.Action == nil) == (st.NotAction == nil) {
			return Policy{}, fmt.Errorf("iam: statement %d: one of Action and NotAction is needed", i)
		}
		if st.Resource != nil && st.NotResource != nil {
			return Policy{}, fmt.Errorf("iam: statement %d: Resource and NotResource together", i)
		}
	}
	return p, nil
}
