package lambada

import (
	"fmt"
	"regexp"
	"strings"
)

// Patterns as AWS prints them in ValidationException messages. They are
// matched against the whole string.
const (
	FunctionNamePattern = `(arn:(aws[a-zA-Z-]*)?:lambda:)?((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:)?(\d{12}:)?(function:)?([a-zA-Z0-9-_\.]+)(:(\$LATEST(\.PUBLISHED)?|[a-zA-Z0-9-_]+))?`
	QualifierPattern    = `\$(LATEST(\.PUBLISHED)?)|[a-zA-Z0-9-_$]+`

	MaxFunctionRefLength = 256 // NamespacedFunctionName, as Invoke and GetFunction accept it
	MaxQualifierLength   = 128
)

var (
	functionRefRE = regexp.MustCompile(`^(?:arn:(?:aws[a-zA-Z-]*)?:lambda:)?` +
		`(?:((?:eusc-)?[a-z]{2}(?:(?:-gov)|(?:-iso[a-z]?))?-[a-z]+-\d):)?` +
		`(?:(\d{12}):)?(?:function:)?([a-zA-Z0-9_.-]+)` +
		`(?::(\$LATEST(?:\.PUBLISHED)?|[a-zA-Z0-9_-]+))?$`)
	qualifierRE = regexp.MustCompile(`^(?:\$(?:LATEST(?:\.PUBLISHED)?)|[a-zA-Z0-9_$-]+)$`)
)

// FunctionRef is a function as a request names it: a plain name, a name with a
// qualifier suffix, a partial ARN or a full ARN, plus the Qualifier parameter.
type FunctionRef struct {
	Name      string
	Qualifier string // "" when neither the name nor the parameter gave one
	Region    string // "" unless the name was an ARN that carried one
	Account   string // "" unless the name was an ARN that carried one
}

// Key is the AccountKey of the function r names, own being the node's
// account (r.Account "" is the node's own too).
func (r FunctionRef) Key(own string) string { return AccountKey(own, r.Account, r.Name) }

// VersionOrLatest returns the qualifier, or $LATEST when there is none.
func (r FunctionRef) VersionOrLatest() string {
	if r.Qualifier == "" {
		return LatestVersion
	}
	return r.Qualifier
}

// ParseFunctionRef validates FunctionName and the optional Qualifier as the
// Lambda front end does for Invoke and the Get operations, adding every
// violation to v; the caller reports v.Err() first. The returned error is the
// InvalidParameterValueException for a qualifier in the name that disagrees
// with the parameter, which AWS checks after validation, ClientContext and the
// ARN's region. qualifier is nil when the request had no Qualifier parameter.
func ParseFunctionRef(v *Validation, name string, qualifier *string) (FunctionRef, error) {
	var m []string
	if plainName(name) { // what nearly every invocation names: no regexp
		m = []string{name, "", "", name, ""}
	} else {
		m = functionRefRE.FindStringSubmatch(name)
	}
	switch {
	case len(name) > MaxFunctionRefLength:
		v.Add(name, "functionName", fmt.Sprintf("Member must have length less than or equal to %d", MaxFunctionRefLength))
		m = nil
	case len(name) < 1:
		v.Add(name, "functionName", "Member must have length greater than or equal to 1")
	case m == nil:
		v.Add(name, "functionName", "Member must satisfy regular expression pattern: "+FunctionNamePattern)
	}
	if qualifier != nil {
		ValidateQualifier(v, *qualifier)
	}
	if m == nil {
		return FunctionRef{}, nil
	}
	ref := FunctionRef{Region: m[1], Account: m[2], Name: m[3], Qualifier: m[4]}
	if qualifier != nil {
		if ref.Qualifier != "" && ref.Qualifier != *qualifier {
			return ref, Errorf(EINVALID, "The derived qualifier from the function name does not match the specified qualifier.")
		}
		ref.Qualifier = *qualifier
	}
	return ref, nil
}

// plainName reports whether name is a plain function name of at most
// MaxFunctionRefLength characters: letters, digits, '-', '_' and '.', not
// starting with "arn:" nor holding a ':' (the pattern's last group).
func plainName(name string) bool {
	if len(name) == 0 || len(name) > MaxFunctionRefLength {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// ValidateQualifier adds the violations of a Qualifier parameter to v.
func ValidateQualifier(v *Validation, q string) {
	switch {
	case len(q) > MaxQualifierLength:
		v.Add(q, "qualifier", fmt.Sprintf("Member must have length less than or equal to %d", MaxQualifierLength))
	case len(q) < 1:
		v.Add(q, "qualifier", "Member must have length greater than or equal to 1")
	case !qualifierRE.MatchString(q):
		v.Add(q, "qualifier", "Member must satisfy regular expression pattern: "+QualifierPattern)
	}
}

// CheckRegion returns the error AWS gives when ref is an ARN of another region
// (404) or another account (403); region and account are this node's.
func (r FunctionRef) CheckRegion(region, account string) error {
	if r.Region != "" && r.Region != region {
		return Errorf(ENOTFOUND, "Functions from '%s' are not reachable in this region ('%s')", r.Region, region)
	}
	if r.Account != "" && r.Account != account {
		return &Error{Code: EACCESSDENIED, Message: fmt.Sprintf("User is not authorized to perform: lambda:InvokeFunction on resource: %s", FunctionARN(region, r.Account, r.Name, r.Qualifier))}
	}
	return nil
}

// FunctionARN returns arn:aws:lambda:<region>:<account>:function:<name>, with
// ":<qualifier>" appended when qualifier is not empty.
func FunctionARN(region, account, name, qualifier string) string {
	var b strings.Builder
	b.Grow(40 + len(region) + len(name) + len(qualifier))
	b.WriteString("arn:aws:lambda:")
	b.WriteString(region)
	b.WriteByte(':')
	b.WriteString(account)
	b.WriteString(":function:")
	b.WriteString(name)
	if qualifier != "" {
		b.WriteByte(':')
		b.WriteString(qualifier)
	}
	return b.String()
}

// Validation collects front-end constraint violations into AWS's
// ValidationException text.
type Validation struct{ msgs []string }

// Add records that value at member failed constraint.
func (v *Validation) Add(value, member, constraint string) {
	v.msgs = append(v.msgs, fmt.Sprintf("Value '%s' at '%s' failed to satisfy constraint: %s", value, member, constraint))
}

// AddNull records that the required member was missing.
func (v *Validation) AddNull(member string) {
	v.msgs = append(v.msgs, fmt.Sprintf("Value null at '%s' failed to satisfy constraint: Member must not be null", member))
}

// Err returns nil when nothing was recorded, else an EVALIDATION error whose
// message is "N validation error(s) detected: …; …".
func (v *Validation) Err() error {
	switch len(v.msgs) {
	case 0:
		return nil
	case 1:
		return Errorf(EVALIDATION, "1 validation error detected: %s", v.msgs[0])
	}
	return Errorf(EVALIDATION, "%d validation errors detected: %s", len(v.msgs), strings.Join(v.msgs, "; "))
}
