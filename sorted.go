package lambada

import (
	"slices"
	"sort"
)

// The per-qualifier settings of a function (aliases, provisioned and
// event-invoke configurations) are slices kept sorted by a string key.

// find returns the element of s whose key is k, or nil.
func find[T any](s []T, k string, key func(*T) string) *T {
	for i := range s {
		if key(&s[i]) == k {
			return &s[i]
		}
	}
	return nil
}

// upsert adds v to s, sorted by key, or replaces the element with v's key.
func upsert[T any](s []T, v T, key func(*T) string) []T {
	k := key(&v)
	i := sort.Search(len(s), func(i int) bool { return key(&s[i]) >= k })
	if i < len(s) && key(&s[i]) == k {
		s[i] = v
		return s
	}
	return slices.Insert(s, i, v)
}

// remove removes the element of s whose key is k, reporting whether there
// was one.
func remove[T any](s []T, k string, key func(*T) string) ([]T, bool) {
	for i := range s {
		if key(&s[i]) == k {
			return slices.Delete(s, i, i+1), true
		}
	}
	return s, false
}

func versionNumber(c *FunctionConfig) string           { return c.Version }
func aliasName(a *Alias) string                        { return a.Name }
func provisionedQualifier(c *ProvisionedConfig) string { return c.Qualifier }
func eventInvokeQualifier(c *EventInvokeConfig) string { return c.Qualifier }
