package lambada

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"maps"
	"slices"
	"sort"
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
func (f *Function) Version(v string) *FunctionConfig {
	for i := range f.Versions {
		if f.Versions[i].Version == v {
			return &f.Versions[i]
		}
	}
	return nil
}

// Alias returns the alias named name, or nil.
func (f *Function) Alias(name string) *Alias {
	for i := range f.Aliases {
		if f.Aliases[i].Name == name {
			return &f.Aliases[i]
		}
	}
	return nil
}

// PutAlias adds a or replaces the alias of the same name, keeping the
// aliases sorted. f must be a copy the caller owns.
func (f *Function) PutAlias(a Alias) {
	i := sort.Search(len(f.Aliases), func(i int) bool { return f.Aliases[i].Name >= a.Name })
	if i < len(f.Aliases) && f.Aliases[i].Name == a.Name {
		f.Aliases[i] = a
		return
	}
	f.Aliases = slices.Insert(f.Aliases, i, a)
}

// DeleteAlias removes the alias named name, reporting whether it existed.
func (f *Function) DeleteAlias(name string) bool {
	for i := range f.Aliases {
		if f.Aliases[i].Name == name {
			f.Aliases = slices.Delete(f.Aliases, i, i+1)
			return true
		}
	}
	return false
}

// DeleteVersion removes published version v, reporting whether it existed.
func (f *Function) DeleteVersion(v string) bool {
	for i := range f.Versions {
		if f.Versions[i].Version == v {
			f.Versions = slices.Delete(f.Versions, i, i+1)
			return true
		}
	}
	return false
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
// for "" or "$LATEST", a published version for a number, and for an alias
// its version, or its additional version when pick (uniform in [0, 1)) falls
// under that version's weight. It returns ENOTFOUND (with no message; the
// caller knows the ARN) when the version or alias does not exist.
func (f *Function) Resolve(qualifier string, pick float64) (*FunctionConfig, error) {
	switch {
	case qualifier == "" || qualifier == LatestVersion:
		return &f.Latest, nil
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
		return &f.Latest, nil
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
	}{c.Runtime, c.Handler, c.Role, c.Description, c.CodeSha256, c.PackageType,
		c.Timeout, c.MemorySize, c.EphemeralStorage, c.Environment, c.Architectures})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Generation orders the configurations of one version over time; execution
// environments started for an older generation are retired.
func (c *FunctionConfig) Generation() uint64 { return uint64(c.LastModified.UnixNano()) }
