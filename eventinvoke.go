package lambada

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// EventInvokeConfig is how asynchronous invocations of one qualifier of a
// function ($LATEST, a version or an alias) are retried and where their
// results go (docs/aws-behaviour.md §12.2). Unset members are nil or "".
type EventInvokeConfig struct {
	Qualifier                string    `json:"qualifier"`
	MaximumRetryAttempts     *int      `json:"maximumRetryAttempts,omitempty"`
	MaximumEventAgeInSeconds *int      `json:"maximumEventAgeInSeconds,omitempty"`
	OnSuccess                string    `json:"onSuccess,omitempty"` // destination ARN
	OnFailure                string    `json:"onFailure,omitempty"`
	LastModified             time.Time `json:"lastModified"`
}

// Policy is the retry policy c gives, at the time scale scale.
func (c *EventInvokeConfig) Policy(scale float64) AsyncPolicy {
	p := AsyncPolicy{Scale: scale}
	if c != nil {
		p.MaximumRetryAttempts, p.MaximumEventAgeInSeconds = c.MaximumRetryAttempts, c.MaximumEventAgeInSeconds
	}
	return p
}

// EventInvokeSettings are the members of a Put or Update request; nil
// pointers were not given. An Update merges what it gives into the stored
// configuration; a Put replaces it.
type EventInvokeSettings struct {
	MaximumRetryAttempts     *int
	MaximumEventAgeInSeconds *int
	OnSuccess, OnFailure     *string // nil: the destination was not given
}

// DestinationPattern is the API model's pattern for a destination ARN.
const DestinationPattern = `$|kafka://([^.]([a-zA-Z0-9\-_.]{0,248}))|arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9\-])+:([a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1})?:(\d{12})?:(.*)`

// MaxDestination is the longest destination ARN the model allows.
const MaxDestination = 350

var destinationRE = regexp.MustCompile(`^(?:` + DestinationPattern + `)$`)

// Validate adds the front end's constraint violations to v.
func (s *EventInvokeSettings) Validate(v *Validation) {
	if n := s.MaximumRetryAttempts; n != nil {
		if *n < 0 {
			v.Add(strconv.Itoa(*n), "maximumRetryAttempts", "Member must have value greater than or equal to 0")
		} else if *n > MaxRetryAttempts {
			v.Add(strconv.Itoa(*n), "maximumRetryAttempts", fmt.Sprintf("Member must have value less than or equal to %d", MaxRetryAttempts))
		}
	}
	if n := s.MaximumEventAgeInSeconds; n != nil {
		if *n < MinMaxEventAge {
			v.Add(strconv.Itoa(*n), "maximumEventAgeInSeconds", fmt.Sprintf("Member must have value greater than or equal to %d", MinMaxEventAge))
		} else if *n > MaxMaxEventAge {
			v.Add(strconv.Itoa(*n), "maximumEventAgeInSeconds", fmt.Sprintf("Member must have value less than or equal to %d", MaxMaxEventAge))
		}
	}
	for _, d := range []struct {
		member string
		arn    *string
	}{{"destinationConfig.onSuccess.destination", s.OnSuccess}, {"destinationConfig.onFailure.destination", s.OnFailure}} {
		switch {
		case d.arn == nil:
		case len(*d.arn) > MaxDestination:
			v.Add(*d.arn, d.member, fmt.Sprintf("Member must have length less than or equal to %d", MaxDestination))
		case !destinationRE.MatchString(*d.arn):
			v.Add(*d.arn, d.member, "Member must satisfy regular expression pattern: "+DestinationPattern)
		}
	}
}

// Empty reports whether s sets nothing: AWS refuses such a Put.
func (s *EventInvokeSettings) Empty() bool {
	return s.MaximumRetryAttempts == nil && s.MaximumEventAgeInSeconds == nil &&
		(s.OnSuccess == nil || *s.OnSuccess == "") && (s.OnFailure == nil || *s.OnFailure == "")
}

// ErrNoEventInvokeSettings is AWS's answer to a Put that sets nothing.
var ErrNoEventInvokeSettings = Errorf(EINVALID, "You must specify at least one of error handling or destination setting.")

// Apply writes the members s gives onto c.
func (s *EventInvokeSettings) Apply(c *EventInvokeConfig) {
	if s.MaximumRetryAttempts != nil {
		n := *s.MaximumRetryAttempts
		c.MaximumRetryAttempts = &n
	}
	if s.MaximumEventAgeInSeconds != nil {
		n := *s.MaximumEventAgeInSeconds
		c.MaximumEventAgeInSeconds = &n
	}
	if s.OnSuccess != nil {
		c.OnSuccess = *s.OnSuccess
	}
	if s.OnFailure != nil {
		c.OnFailure = *s.OnFailure
	}
}

// DestinationKind is the service a destination ARN names.
type DestinationKind string

const (
	DestinationLambda DestinationKind = "lambda"
	DestinationSQS    DestinationKind = "sqs"
)

// ParseDestination returns the kind of a destination or dead-letter ARN
// and, for a Lambda function, its reference. Kinds Lambada does not deliver
// to (SNS, EventBridge, S3, Kafka) return "".
func ParseDestination(arn string) (DestinationKind, FunctionRef) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 6 || parts[0] != "arn" {
		return "", FunctionRef{}
	}
	switch parts[2] {
	case "sqs":
		return DestinationSQS, FunctionRef{}
	case "lambda":
		var v Validation
		ref := ParseFunctionName(&v, arn)
		if v.Err() != nil || ref.Name == "" {
			return "", FunctionRef{}
		}
		return DestinationLambda, ref
	}
	return "", FunctionRef{}
}

// InvalidDestinationConfig is AWS's error for a destination of a service it
// cannot deliver to, naming the configuration as Java prints it.
func InvalidDestinationConfig(onSuccess, onFailure string) error {
	show := func(kind, arn string) string {
		if arn == "" {
			return "null"
		}
		return kind + "(destination=" + arn + ")"
	}
	return Errorf(EINVALID, "The provided destination config DestinationConfig(onSuccess=%s, onFailure=%s) is invalid.",
		show("OnSuccess", onSuccess), show("OnFailure", onFailure))
}

// EventInvokeConfig returns the configuration of qualifier ("$LATEST", a
// version or an alias), or nil.
func (f *Function) EventInvokeConfig(qualifier string) *EventInvokeConfig {
	return find(f.EventInvokeConfigs, qualifier, eventInvokeQualifier)
}

// PutEventInvokeConfig adds c or replaces the configuration of the same
// qualifier, keeping them sorted. f must be a copy the caller owns.
func (f *Function) PutEventInvokeConfig(c EventInvokeConfig) {
	f.EventInvokeConfigs = upsert(f.EventInvokeConfigs, c, eventInvokeQualifier)
}

// DeleteEventInvokeConfig removes the configuration of qualifier,
// reporting whether there was one.
func (f *Function) DeleteEventInvokeConfig(qualifier string) bool {
	var ok bool
	f.EventInvokeConfigs, ok = remove(f.EventInvokeConfigs, qualifier, eventInvokeQualifier)
	return ok
}

// Clone returns a deep copy of c.
func (c EventInvokeConfig) Clone() EventInvokeConfig {
	if c.MaximumRetryAttempts != nil {
		n := *c.MaximumRetryAttempts
		c.MaximumRetryAttempts = &n
	}
	if c.MaximumEventAgeInSeconds != nil {
		n := *c.MaximumEventAgeInSeconds
		c.MaximumEventAgeInSeconds = &n
	}
	return c
}
