package lambada

import (
	"encoding/json"
	"slices"
)

// ResourcePolicy is the resource-based policy of a function, or of one of
// its versions or aliases: its statements (each a JSON object, as
// AddPermission made it), in order, and its revision.
type ResourcePolicy struct {
	Statements []string `json:"statements"`
	RevisionID string   `json:"revisionId"`
}

// statementSid returns the Sid of a statement ("" when it has none).
func statementSid(st string) string {
	var s struct{ Sid string }
	_ = json.Unmarshal([]byte(st), &s)
	return s.Sid
}

// Has reports whether the policy has a statement sid.
func (p *ResourcePolicy) Has(sid string) bool {
	return p != nil && slices.ContainsFunc(p.Statements, func(st string) bool { return statementSid(st) == sid })
}

// Remove removes statement sid and reports whether it was there.
func (p *ResourcePolicy) Remove(sid string) bool {
	n := len(p.Statements)
	p.Statements = slices.DeleteFunc(p.Statements, func(st string) bool { return statementSid(st) == sid })
	return len(p.Statements) != n
}

// Document is the policy as GetPolicy shows it: {"Version":"2012-10-17",
// "Id":"default","Statement":[…]}.
func (p *ResourcePolicy) Document() string {
	sts := make([]json.RawMessage, len(p.Statements))
	for i, st := range p.Statements {
		sts[i] = json.RawMessage(st)
	}
	b, _ := json.Marshal(struct {
		Version   string            `json:"Version"`
		ID        string            `json:"Id"`
		Statement []json.RawMessage `json:"Statement"`
	}{"2012-10-17", "default", sts})
	return string(b)
}

// Policy returns the resource-based policy of qualifier ("": the function
// itself), or nil.
func (f *Function) Policy(qualifier string) *ResourcePolicy {
	return f.Policies[qualifier]
}
