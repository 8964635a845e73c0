package iam

import "strings"

// Glob reports whether s matches pattern, where * matches any run of
// characters (none included) and ? any one character.
func Glob(pattern, s string) bool {
	// The classic two-pointer match with backtracking to the last star.
	p, i := 0, 0
	star, mark := -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == s[i]):
			p++
			i++
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case star >= 0:
			p = star + 1
			mark++
			i = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// arnLike matches an ARN against a pattern component by component: each
// of the six colon-separated parts on its own (the last keeps its colons),
// so that a wildcard never spans two parts.
func arnLike(pattern, arn string) bool {
	pp, ap := strings.SplitN(pattern, ":", 6), strings.SplitN(arn, ":", 6)
	if len(pp) != 6 || len(ap) != 6 {
		return pattern == arn
	}
	for i := range pp {
		if !Glob(pp[i], ap[i]) {
			return false
		}
	}
	return true
}

// operators are the condition operators Lambada evaluates: for each, how
// one value of the request matches one value of the policy.
var operators = map[string]func(policy, value string) bool{
	"StringEquals":           func(p, v string) bool { return p == v },
	"StringEqualsIgnoreCase": strings.EqualFold,
	"StringLike":             Glob,
	"ArnEquals":              func(p, v string) bool { return p == v },
	"ArnLike":                arnLike,
	"Bool":                   strings.EqualFold,
}

// negations are the negated operators, each of a positive one.
var negations = map[string]string{
	"StringNotEquals":           "StringEquals",
	"StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
	"StringNotLike":             "StringLike",
	"ArnNotEquals":              "ArnEquals",
	"ArnNotLike":                "ArnLike",
}

// conditionsHold reports whether every condition of a statement holds for
// a request's context: every operator, every key of it; a key holds when
// the request's value matches one of the policy's (a negated operator: none
// of them). A key the request lacks fails a positive operator and passes a
// negated one; with IfExists it passes either. An operator Lambada does not
// know fails, so that an unknown condition never grants anything.
func conditionsHold(conds map[string]map[string]Strings, ctx map[string]string) bool {
	for op, keys := range conds {
		name, ifExists := strings.CutSuffix(op, "IfExists")
		positive, negated := name, false
		if p, ok := negations[name]; ok {
			positive, negated = p, true
		}
		match, ok := operators[positive]
		if !ok {
			return false
		}
		for key, values := range keys {
			v, present := lookup(ctx, key)
			if !present {
				if ifExists || negated {
					continue
				}
				return false
			}
			matched := false
			for _, pv := range values {
				if match(pv, v) {
					matched = true
					break
				}
			}
			if matched == negated {
				return false
			}
		}
	}
	return true
}

// lookup finds a condition key, whose name is case-insensitive.
func lookup(ctx map[string]string, key string) (string, bool) {
	if v, ok := ctx[key]; ok {
		return v, true
	}
	for k, v := range ctx {
		if strings.EqualFold(k, key) {
			return v, true
		}
	}
	return "", false
}
