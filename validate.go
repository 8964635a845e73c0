package lambada

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Patterns and limits of the control plane's request members, as AWS prints
// them in its messages.
const (
	// NewFunctionNamePattern is the FunctionName shape of CreateFunction and
	// the Update operations: no dots, and no $LATEST.PUBLISHED.
	NewFunctionNamePattern = `(arn:(aws[a-zA-Z-]*)?:lambda:)?((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:)?(\d{12}:)?(function:)?([a-zA-Z0-9-_]+)(:(\$LATEST|[a-zA-Z0-9-_]+))?`
	RolePattern            = `arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+`
	HandlerPattern         = `[^\s]+`
	EnvironmentKeyPattern  = `[a-zA-Z]([a-zA-Z0-9_])+`

	MaxFunctionNameARN  = 140   // characters of a FunctionName given as an ARN
	MaxDescription      = 256   // characters
	MaxHandler          = 128   // characters
	MaxEnvironmentSize  = 4096  // bytes of the variables as compact JSON
	MaxModelMemorySize  = 32768 // MB the API's shape allows; MaxMemorySize applies after it
	MinEphemeralStorage = 512   // MB
	MaxEphemeralStorage = 10240 // MB

	DefaultEphemeralStorage = 512 // MB
	ArchitectureX86         = "x86_64"
	ArchitectureARM         = "arm64"
	PackageTypeZip          = "Zip"
)

var (
	newFunctionNameRE = regexp.MustCompile(`^(?:arn:(?:aws[a-zA-Z-]*)?:lambda:)?` +
		`(?:((?:eusc-)?[a-z]{2}(?:(?:-gov)|(?:-iso[a-z]?))?-[a-z]+-\d):)?` +
		`(?:(\d{12}):)?(?:function:)?([a-zA-Z0-9_-]+)` +
		`(?::(\$LATEST|[a-zA-Z0-9_-]+))?$`)
	roleRE           = regexp.MustCompile(`^arn:(?:aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+$`)
	handlerRE        = regexp.MustCompile(`^[^\s]+$`)
	environmentKeyRE = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9_]+$`)
)

// ParseFunctionName validates the FunctionName member of CreateFunction and
// the Update operations (at most 140 characters, no dots), adding violations
// to v. Whether a qualifier suffix is allowed is the caller's decision.
func ParseFunctionName(v *Validation, name string) FunctionRef {
	if len(name) < 1 {
		v.Add(name, "functionName", "Member must have length greater than or equal to 1")
		return FunctionRef{}
	}
	// AWS reports the length and the pattern together when both fail.
	tooLong := len(name) > MaxFunctionNameARN
	if tooLong {
		v.Add(name, "functionName", fmt.Sprintf("Member must have length less than or equal to %d", MaxFunctionNameARN))
	}
	m := newFunctionNameRE.FindStringSubmatch(name)
	if m == nil {
		v.Add(name, "functionName", "Member must satisfy regular expression pattern: "+NewFunctionNamePattern)
	}
	if m == nil || tooLong {
		return FunctionRef{}
	}
	return FunctionRef{Region: m[1], Account: m[2], Name: m[3], Qualifier: m[4]}
}

// CheckNewFunctionName returns the error CreateFunction gives for a name
// longer than MaxFunctionName: an InvalidParameterValueException that reads
// like a validation error.
func CheckNewFunctionName(name string) error {
	if len(name) <= MaxFunctionName {
		return nil
	}
	return Errorf(EINVALID, "1 validation error detected: Value '%s' at 'functionName' failed to satisfy constraint: Member must have length less than or equal to %d", name, MaxFunctionName)
}

// FunctionSettings are the configuration members a CreateFunction or
// UpdateFunctionConfiguration request may set. Nil means "not given", so an
// update leaves that member as it was.
type FunctionSettings struct {
	Runtime          *string
	Handler          *string
	Role             *string
	Description      *string
	Timeout          *int
	MemorySize       *int
	Environment      *Variables
	EphemeralStorage *EphemeralStorageSetting
	Architectures    []string // nil when not given
	DeadLetterTarget *string  // DeadLetterConfig.TargetArn; "" removes it
	Logging          *LoggingSetting
}

// EphemeralStorageSetting is the EphemeralStorage member; Size is required.
type EphemeralStorageSetting struct{ Size *int }

// Validate adds the front end's constraint violations (ValidationException)
// to v, in the order of the API model's members.
func (s *FunctionSettings) Validate(v *Validation) {
	if s.Role != nil && !roleRE.MatchString(*s.Role) {
		v.Add(*s.Role, "role", "Member must satisfy regular expression pattern: "+RolePattern)
	}
	if h := s.Handler; h != nil {
		if len(*h) > MaxHandler {
			v.Add(*h, "handler", fmt.Sprintf("Member must have length less than or equal to %d", MaxHandler))
		} else if !handlerRE.MatchString(*h) {
			v.Add(*h, "handler", "Member must satisfy regular expression pattern: "+HandlerPattern)
		}
	}
	if d := s.Description; d != nil && len(*d) > MaxDescription {
		v.Add(*d, "description", fmt.Sprintf("Member must have length less than or equal to %d", MaxDescription))
	}
	if t := s.Timeout; t != nil {
		if *t < 1 {
			v.Add(strconv.Itoa(*t), "timeout", "Member must have value greater than or equal to 1")
		} else if *t > MaxTimeout {
			v.Add(strconv.Itoa(*t), "timeout", fmt.Sprintf("Member must have value less than or equal to %d", MaxTimeout))
		}
	}
	if m := s.MemorySize; m != nil {
		if *m < MinMemorySize {
			v.Add(strconv.Itoa(*m), "memorySize", fmt.Sprintf("Member must have value greater than or equal to %d", MinMemorySize))
		} else if *m > MaxModelMemorySize {
			v.Add(strconv.Itoa(*m), "memorySize", fmt.Sprintf("Member must have value less than or equal to %d", MaxModelMemorySize))
		}
	}
	if s.Environment != nil {
		for _, k := range s.Environment.keys {
			if !environmentKeyRE.MatchString(k) {
				// The variables are sensitive: AWS does not print them.
				v.msgs = append(v.msgs, "Value at 'environment.variables' failed to satisfy constraint: Map keys must satisfy constraint: [Member must satisfy regular expression pattern: "+EnvironmentKeyPattern+"]")
				break
			}
		}
	}
	if e := s.EphemeralStorage; e != nil {
		switch {
		case e.Size == nil:
			v.AddNull("ephemeralStorage.size")
		case *e.Size < MinEphemeralStorage:
			v.Add(strconv.Itoa(*e.Size), "ephemeralStorage.size", fmt.Sprintf("Member must have value greater than or equal to %d", MinEphemeralStorage))
		case *e.Size > MaxEphemeralStorage:
			v.Add(strconv.Itoa(*e.Size), "ephemeralStorage.size", fmt.Sprintf("Member must have value less than or equal to %d", MaxEphemeralStorage))
		}
	}
	if s.Architectures != nil {
		ValidateArchitectures(v, s.Architectures)
	}
	if t := s.DeadLetterTarget; t != nil && !deadLetterRE.MatchString(*t) {
		v.Add(*t, "deadLetterConfig.targetArn", "Member must satisfy regular expression pattern: "+DeadLetterPattern)
	}
	if s.Logging != nil {
		s.Logging.Validate(v)
	}
}

// DeadLetterPattern is the API model's pattern for DeadLetterConfig.TargetArn.
const DeadLetterPattern = `(arn:(aws[a-zA-Z-]*)?:[a-z0-9-.]+:.*)|()`

var deadLetterRE = regexp.MustCompile(`^(?:` + DeadLetterPattern + `)$`)

// ValidateArchitectures adds the violations of an Architectures list to v.
func ValidateArchitectures(v *Validation, archs []string) {
	value := "[" + strings.Join(archs, ", ") + "]"
	switch {
	case len(archs) > 1:
		v.Add(value, "architectures", "Member must have length less than or equal to 1")
	case len(archs) < 1:
		v.Add(value, "architectures", "Member must have length greater than or equal to 1")
	case archs[0] != ArchitectureX86 && archs[0] != ArchitectureARM:
		v.Add(value, "architectures", "Member must satisfy constraint: [Member must satisfy enum value set: [x86_64, arm64], Member must not be null]")
	}
}

// Check returns the first error the Lambda service itself (behind the front
// end's validation) reports for s: runtime, memory, environment.
func (s *FunctionSettings) Check() error {
	if s.Runtime != nil {
		if err := CheckRuntime(*s.Runtime); err != nil {
			return err
		}
	}
	if m := s.MemorySize; m != nil && *m > MaxMemorySize {
		return Errorf(EVALIDATION, "'MemorySize' value failed to satisfy constraint: Member must have value less than or equal to %d", MaxMemorySize)
	}
	if s.Environment != nil {
		if err := CheckEnvironment(*s.Environment); err != nil {
			return err
		}
	}
	if t := s.DeadLetterTarget; t != nil && *t != "" {
		if kind, _ := ParseDestination(*t); kind != DestinationSQS {
			return Errorf(EINVALID, "The provided target arn is invalid: %s. Lambada delivers dead letters to SQS queues only.", *t)
		}
	}
	return nil
}

// Apply writes the members s sets onto c. It fails, leaving c as it was,
// when the LoggingConfig it sets does not go with c's.
func (s *FunctionSettings) Apply(c *FunctionConfig) error {
	logging := c.Logging
	if s.Logging != nil {
		var err error
		if logging, err = s.Logging.Apply(c.Logging); err != nil {
			return err
		}
	}
	c.Logging = logging
	set := func(dst *string, src *string) {
		if src != nil {
			*dst = *src
		}
	}
	set(&c.Runtime, s.Runtime)
	set(&c.Handler, s.Handler)
	set(&c.Role, s.Role)
	set(&c.Description, s.Description)
	if s.Timeout != nil {
		c.Timeout = *s.Timeout
	}
	if s.MemorySize != nil {
		c.MemorySize = *s.MemorySize
	}
	if s.Environment != nil {
		c.Environment = s.Environment.Map()
		c.HasEnvironment = true
	}
	if s.EphemeralStorage != nil && s.EphemeralStorage.Size != nil {
		c.EphemeralStorage = *s.EphemeralStorage.Size
	}
	if s.Architectures != nil {
		c.Architectures = slices.Clone(s.Architectures)
	}
	if s.DeadLetterTarget != nil {
		c.DeadLetterTarget = *s.DeadLetterTarget
	}
	return nil
}

// NewFunctionConfig returns a $LATEST configuration with AWS's defaults.
func NewFunctionConfig() FunctionConfig {
	return FunctionConfig{
		Version:          LatestVersion,
		Timeout:          DefaultTimeout,
		MemorySize:       DefaultMemorySize,
		Architectures:    []string{ArchitectureX86},
		EphemeralStorage: DefaultEphemeralStorage,
		PackageType:      PackageTypeZip,
	}
}
