package lambada

import (
	"fmt"
	"regexp"
	"strings"
)

// Tag limits, as AWS documents them for Lambda functions (docs/aws-behaviour.md
// §7.8 has the rules and texts).
const (
	MaxTags         = 50
	MaxTagKey       = 128 // characters
	MaxTagValue     = 256 // characters
	TagPattern      = `^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$`
	tagAWSPrefix    = "aws:"
	TaggablePattern = `arn:(aws[a-zA-Z-]*):lambda:(eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:\d{12}:(function:[a-zA-Z0-9-_]+(:(\$LATEST|[a-zA-Z0-9-_]+))?|layer:([a-zA-Z0-9-_]+)|code-signing-config:csc-[a-z0-9]{17}|event-source-mapping:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|capacity-provider:[a-zA-Z0-9-_]+)`
)

var (
	tagRE       = regexp.MustCompile(TagPattern)
	taggableRE  = regexp.MustCompile(`^` + TaggablePattern + `$`)
	taggedFnRE  = regexp.MustCompile(`^arn:aws[a-zA-Z-]*:lambda:([^:]+):(\d{12}):function:([a-zA-Z0-9_-]+)(?::(.+))?$`)
	errTooMany  = Errorf(EINVALID, "Number of tags exceeds resource tag limit.")
	errNoTags   = Errorf(EINVALID, "An error occurred and the request cannot be processed.")
	errTagAlias = Errorf(EINVALID, "Tags on function aliases and versions are not supported. Please specify a function ARN.")
)

// ParseTaggable validates the Resource of TagResource, UntagResource and
// ListTags: an ARN of a Lambda resource. Only functions carry tags here; the
// ARN of a version or alias is refused as AWS refuses it, before anything is
// looked up. Other resource types are ENOTFOUND.
func ParseTaggable(arn string) (FunctionRef, error) {
	if !taggableRE.MatchString(arn) {
		var v Validation
		v.Add(arn, "resource", "Member must satisfy regular expression pattern: "+TaggablePattern)
		return FunctionRef{}, v.Err()
	}
	m := taggedFnRE.FindStringSubmatch(arn)
	if m == nil {
		return FunctionRef{}, Errorf(ENOTFOUND, "The resource you requested does not exist.")
	}
	if m[4] != "" {
		return FunctionRef{}, errTagAlias
	}
	return FunctionRef{Region: m[1], Account: m[2], Name: m[3]}, nil
}

// CheckTags returns AWS's error for the tags a request sets: keys of 1 to
// 128 characters and values of up to 256 (a ValidationException that prints
// the tags), keys not starting with "aws:", and at most MaxTags. The form
// of the length and prefix messages is inferred from AWS's other tag
// messages.
func CheckTags(tags map[string]string) error {
	badKey, badValue := false, false
	for k, v := range tags {
		badKey = badKey || len(k) < 1 || len([]rune(k)) > MaxTagKey || !tagRE.MatchString(k)
		badValue = badValue || len([]rune(v)) > MaxTagValue || !tagRE.MatchString(v)
	}
	if badKey || badValue {
		var v Validation
		value := javaMap(tags, func(s string) string { return s })
		if badKey {
			v.Add(value, "tags", fmt.Sprintf("Map keys must satisfy constraint: [Member must have length less than or equal to %d, Member must have length greater than or equal to 1, Member must satisfy regular expression pattern: %s]", MaxTagKey, TagPattern))
		}
		if badValue {
			v.Add(value, "tags", fmt.Sprintf("Map value must satisfy constraint: [Member must have length less than or equal to %d, Member must have length greater than or equal to 0, Member must satisfy regular expression pattern: %s]", MaxTagValue, TagPattern))
		}
		return v.Err()
	}
	for k := range tags {
		if strings.HasPrefix(strings.ToLower(k), tagAWSPrefix) {
			return Errorf(EINVALID, "Invalid tag key. Tag keys cannot start with 'aws:' (case insensitive)")
		}
	}
	if len(tags) > MaxTags {
		return errTooMany
	}
	return nil
}

// Tag adds tags to f's, replacing the values of keys it has: TagResource.
// It returns AWS's error for an empty set, invalid tags, or more than MaxTags
// on the function afterwards. f must be a copy the caller owns.
func (f *Function) Tag(tags map[string]string) error {
	if len(tags) == 0 {
		return errNoTags
	}
	if err := CheckTags(tags); err != nil {
		return err
	}
	n := len(f.Tags)
	for k := range tags {
		if _, ok := f.Tags[k]; !ok {
			n++
		}
	}
	if n > MaxTags {
		return errTooMany
	}
	if f.Tags == nil {
		f.Tags = make(map[string]string, len(tags))
	}
	for k, v := range tags {
		f.Tags[k] = v
	}
	return nil
}

// Untag removes the tags keys names from f, ignoring keys it does not have:
// UntagResource. It reports whether any was removed. f must be a copy the
// caller owns.
func (f *Function) Untag(keys []string) bool {
	removed := false
	for _, k := range keys {
		if _, ok := f.Tags[k]; ok {
			delete(f.Tags, k)
			removed = true
		}
	}
	if len(f.Tags) == 0 {
		f.Tags = nil
	}
	return removed
}
