package lambada

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Alias is a named pointer to a published version (or $LATEST), optionally
// sending a share of invocations to one other version.
type Alias struct {
	Name            string  `json:"name"`
	FunctionVersion string  `json:"functionVersion"`
	Description     string  `json:"description,omitempty"`
	Routing         Routing `json:"routing,omitempty"`
	RevisionID      string  `json:"revisionId"`
}

// Routing is an alias's RoutingConfig.AdditionalVersionWeights: each
// invocation runs the named version with the given probability. AWS allows
// at most one entry.
type Routing map[string]float64

// Clone returns a deep copy of a.
func (a Alias) Clone() Alias {
	a.Routing = maps.Clone(a.Routing)
	return a
}

// IsVersionNumber reports whether q names a published version ([0-9]+).
func IsVersionNumber(q string) bool {
	if q == "" {
		return false
	}
	for i := 0; i < len(q); i++ {
		if q[i] < '0' || q[i] > '9' {
			return false
		}
	}
	return true
}

// Version returns the published version numbered v, or nil.
func (f *Function) Version(v string) *FunctionConfig { return find(f.Versions, v, versionNumber) }

// Alias returns the alias named name, or nil.
func (f *Function) Alias(name string) *Alias { return find(f.Aliases, name, aliasName) }

// PutAlias adds a or replaces the alias of the same name, keeping the
// aliases sorted. f must be a copy the caller owns.
func (f *Function) PutAlias(a Alias) { f.Aliases = upsert(f.Aliases, a, aliasName) }

// DeleteAlias removes the alias named name and its EventInvokeConfig,
// reporting whether the alias existed.
func (f *Function) DeleteAlias(name string) bool {
	var ok bool
	if f.Aliases, ok = remove(f.Aliases, name, aliasName); ok {
		f.DeleteEventInvokeConfig(name)
	}
	return ok
}

// DeleteVersion removes published version v and its EventInvokeConfig,
// reporting whether the version existed.
func (f *Function) DeleteVersion(v string) bool {
	var ok bool
	if f.Versions, ok = remove(f.Versions, v, versionNumber); ok {
		f.DeleteEventInvokeConfig(v)
	}
	return ok
}

// AliasesOf returns the names of the aliases that route to version v.
func (f *Function) AliasesOf(v string) []string {
	var names []string
	for _, a := range f.Aliases {
		if _, routed := a.Routing[v]; a.FunctionVersion == v || routed {
			names = append(names, a.Name)
		}
	}
	return names
}

// Resolve returns the configuration an invocation of qualifier runs: $LATEST
// (RunningLatest) for "" or "$LATEST", a published version for a number, and for an alias
// its version, or its additional version when pick (uniform in [0, 1)) falls
// under that version's weight. It returns ENOTFOUND (with no message; the
// caller knows the ARN) when the version or alias does not exist.
func (f *Function) Resolve(qualifier string, pick float64) (*FunctionConfig, error) {
	switch {
	case qualifier == "" || qualifier == LatestVersion:
		return f.RunningLatest(), nil
	case IsVersionNumber(qualifier):
		if v := f.Version(qualifier); v != nil {
			return v, nil
		}
		return nil, &Error{Code: ENOTFOUND}
	}
	a := f.Alias(qualifier)
	if a == nil {
		return nil, &Error{Code: ENOTFOUND}
	}
	target := a.FunctionVersion
	for v, weight := range a.Routing { // at most one entry
		if pick < weight {
			target = v
		}
	}
	if target == LatestVersion {
		return f.RunningLatest(), nil
	}
	if v := f.Version(target); v != nil {
		return v, nil
	}
	return nil, &Error{Code: ENOTFOUND}
}

// ConfigDigest identifies what a published version snapshots: the code and
// every setting that changes how the function runs. Publishing when $LATEST's
// digest equals the newest version's returns that version (AWS publishes
// nothing when neither code nor configuration changed).
func (c *FunctionConfig) ConfigDigest() string {
	b, _ := json.Marshal(struct {
		Runtime, Handler, Role, Description, CodeSha256, PackageType string
		Timeout, MemorySize, EphemeralStorage                        int
		Environment                                                  map[string]string
		Architectures                                                []string
		Layers                                                       []FunctionLayer `json:",omitempty"`
		Logging                                                      LoggingConfig   `json:",omitzero"`
	}{c.Runtime, c.Handler, c.Role, c.Description, c.CodeSha256, c.PackageType,
		c.Timeout, c.MemorySize, c.EphemeralStorage, c.Environment, c.Architectures, c.Layers, c.Logging})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Generation orders the configurations of one version over time; execution
// environments started for an older generation are retired.
func (c *FunctionConfig) Generation() uint64 { return uint64(c.LastModified.UnixNano()) }

// Alias and routing constraints, as AWS prints them.
const (
	AliasPattern        = `(?!^[0-9]+$)([a-zA-Z0-9-_]+)`
	AliasVersionPattern = `(\$LATEST(\.PUBLISHED)?|[0-9]+)`
	MaxAliasName        = 128  // characters
	MaxVersionLength    = 1024 // characters of a FunctionVersion or a routed version

	routingMember = "routingConfig.additionalVersionWeights"
	routingKeys   = "Map keys must satisfy constraint: [Member must have length less than or equal to 1024, Member must have length greater than or equal to 1, Member must satisfy regular expression pattern: [0-9]+]"
	routingValues = "Map value must satisfy constraint: [Member must have value less than or equal to 1.0, Member must have value greater than or equal to 0.0, Member must not be null]"
)

var (
	aliasCharsRE   = regexp.MustCompile(`^[a-zA-Z0-9_-]+$`)
	aliasVersionRE = regexp.MustCompile(`^(?:\$LATEST(?:\.PUBLISHED)?|[0-9]+)$`)
)

// ErrLatestRouting is AWS's answer to routing weights on an alias of
// $LATEST. AWS sends it without the usual "Type" member.
var ErrLatestRouting = &Error{Code: EINVALIDBARE, Message: "$LATEST is not supported for an alias pointing to more than 1 version"}

// ValidateAliasName adds the violations of an alias Name to v: 1 to 128
// letters, digits, '-' and '_', and not all digits (that would be a version).
func ValidateAliasName(v *Validation, name string) {
	switch {
	case len(name) > MaxAliasName:
		v.Add(name, "name", fmt.Sprintf("Member must have length less than or equal to %d", MaxAliasName))
	case len(name) < 1:
		v.Add(name, "name", "Member must have length greater than or equal to 1")
	case !aliasCharsRE.MatchString(name) || IsVersionNumber(name):
		v.Add(name, "name", "Member must satisfy regular expression pattern: "+AliasPattern)
	}
}

// ValidateAliasVersion adds the violations of the FunctionVersion an alias
// points to (or ListAliases filters by) to v.
func ValidateAliasVersion(v *Validation, version string) {
	switch {
	case len(version) > MaxVersionLength:
		v.Add(version, "functionVersion", fmt.Sprintf("Member must have length less than or equal to %d", MaxVersionLength))
	case len(version) < 1:
		v.Add(version, "functionVersion", "Member must have length greater than or equal to 1")
	case !aliasVersionRE.MatchString(version):
		v.Add(version, "functionVersion", "Member must satisfy regular expression pattern: "+AliasVersionPattern)
	}
}

// ValidateRoutingWeights adds the violations of RoutingConfig's
// AdditionalVersionWeights to v: keys must be version numbers, weights (nil
// when the request sent null) must lie in [0, 1]. AWS prints the whole map.
func ValidateRoutingWeights(v *Validation, weights map[string]*float64) {
	badKey, badValue := false, false
	for k, w := range weights {
		badKey = badKey || len(k) > MaxVersionLength || !IsVersionNumber(k)
		badValue = badValue || w == nil || *w < 0 || *w > 1
	}
	if !badKey && !badValue {
		return
	}
	value := javaMap(weights, func(w *float64) string {
		if w == nil {
			return "null"
		}
		return javaDouble(*w)
	})
	if badKey {
		v.Add(value, routingMember, routingKeys)
	}
	if badValue {
		v.Add(value, routingMember, routingValues)
	}
}

// CheckRouting returns the error the Lambda service gives for weights on an
// alias of version target, once the weights passed ValidateRoutingWeights:
// more than one entry, the target itself, or a target of $LATEST
// (ErrLatestRouting). Whether the routed version exists is the caller's check.
func CheckRouting(target string, weights Routing) error {
	if len(weights) > 1 {
		return Errorf(EINVALID, "Number of items in AdditionalVersionWeights cannot be greater than 1")
	}
	for k := range weights {
		if k == target {
			return Errorf(EINVALID, "Invalid function version %s. Function version %s is already included in routing configuration.", k, k)
		}
		if target == LatestVersion {
			return ErrLatestRouting
		}
	}
	return nil
}

// javaMap renders m as Java's Map.toString does, which is how AWS prints a
// map in a validation message: "{k1=v1, k2=v2}", here in key order.
func javaMap[V any](m map[string]V, format func(V) string) string {
	keys := slices.Sorted(maps.Keys(m))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + format(m[k])
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// javaDouble formats f as Java's Double.toString does, which is how AWS
// prints weights: "2.0", "0.5", "1.0E-5".
func javaDouble(f float64) string {
	if a := math.Abs(f); a == 0 || (a >= 1e-3 && a < 1e7) {
		s := strconv.FormatFloat(f, 'f', -1, 64)
		if !strings.Contains(s, ".") {
			s += ".0"
		}
		return s
	}
	mant, exp, _ := strings.Cut(strconv.FormatFloat(f, 'E', -1, 64), "E")
	if !strings.Contains(mant, ".") {
		mant += ".0"
	}
	e, _ := strconv.Atoi(exp)
	return mant + "E" + strconv.Itoa(e)
}
