package lambada

import (
	"cmp"
	"encoding/json"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// LoggingConfig is a function's LoggingConfig: how its lines are written
// and to which log group. The zero value is AWS's default: Text, to
// /aws/lambda/<name>.
type LoggingConfig struct {
	LogFormat           string `json:"logFormat,omitempty"`           // LogFormatText ("") or LogFormatJSON
	ApplicationLogLevel string `json:"applicationLogLevel,omitempty"` // JSON only: TRACE … FATAL
	SystemLogLevel      string `json:"systemLogLevel,omitempty"`      // JSON only: DEBUG, INFO, WARN
	LogGroup            string `json:"logGroup,omitempty"`            // "": DefaultLogGroup
}

// The LogFormat values, the default levels of the JSON format, and the
// LogGroup shape.
const (
	LogFormatText   = "Text"
	LogFormatJSON   = "JSON"
	DefaultLogLevel = "INFO"

	LogGroupPattern = `[\.\-_/#A-Za-z0-9]+`
	MaxLogGroupName = 512
)

var (
	applicationLogLevels = []string{"TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"}
	systemLogLevels      = []string{"DEBUG", "INFO", "WARN"}
	logGroupRE           = regexp.MustCompile(`^` + LogGroupPattern + `$`)
)

// DefaultLogGroup is the log group of a function that names none.
func DefaultLogGroup(function string) string { return "/aws/lambda/" + function }

// Format is c's LogFormat, Text when unset.
func (c LoggingConfig) Format() string {
	if c.LogFormat == "" {
		return LogFormatText
	}
	return c.LogFormat
}

// Group is the log group c sends a function's lines to.
func (c LoggingConfig) Group(function string) string {
	if c.LogGroup == "" {
		return DefaultLogGroup(function)
	}
	return c.LogGroup
}

// LoggingSetting is the LoggingConfig member of CreateFunction or
// UpdateFunctionConfiguration: nil members are left as they are.
type LoggingSetting struct {
	LogFormat, ApplicationLogLevel, SystemLogLevel, LogGroup *string
}

// Validate adds the front end's violations of s to v.
func (s *LoggingSetting) Validate(v *Validation) {
	enum := func(p *string, member string, set []string) {
		if p != nil && !slices.Contains(set, *p) {
			v.Add(*p, "loggingConfig."+member, "Member must satisfy enum value set: ["+strings.Join(set, ", ")+"]")
		}
	}
	enum(s.LogFormat, "logFormat", []string{LogFormatJSON, LogFormatText})
	enum(s.ApplicationLogLevel, "applicationLogLevel", applicationLogLevels)
	enum(s.SystemLogLevel, "systemLogLevel", systemLogLevels)
	if g := s.LogGroup; g != nil {
		switch {
		case len(*g) < 1:
			v.Add(*g, "loggingConfig.logGroup", "Member must have length greater than or equal to 1")
		case len(*g) > MaxLogGroupName:
			v.Add(*g, "loggingConfig.logGroup", "Member must have length less than or equal to 512")
		case !logGroupRE.MatchString(*g):
			v.Add(*g, "loggingConfig.logGroup", "Member must satisfy regular expression pattern: "+LogGroupPattern)
		}
	}
}

// Apply returns c with s applied: levels only go with the JSON format,
// which defaults them to INFO.
func (s *LoggingSetting) Apply(c LoggingConfig) (LoggingConfig, error) {
	if s.LogFormat != nil {
		c.LogFormat = *s.LogFormat
	}
	if s.LogGroup != nil {
		c.LogGroup = *s.LogGroup
	}
	if c.Format() == LogFormatText {
		if s.ApplicationLogLevel != nil || s.SystemLogLevel != nil {
			return c, Errorf(EINVALID, `LogLevel is not supported when LogFormat is set to "Text". Remove LogLevel from your request or change the LogFormat to "JSON" and try again.`)
		}
		c.ApplicationLogLevel, c.SystemLogLevel = "", ""
		return c, nil
	}
	if s.ApplicationLogLevel != nil {
		c.ApplicationLogLevel = *s.ApplicationLogLevel
	}
	if s.SystemLogLevel != nil {
		c.SystemLogLevel = *s.SystemLogLevel
	}
	if c.ApplicationLogLevel == "" {
		c.ApplicationLogLevel = DefaultLogLevel
	}
	if c.SystemLogLevel == "" {
		c.SystemLogLevel = DefaultLogLevel
	}
	return c, nil
}

// LogLevelRank orders the log levels from TRACE (1) to FATAL (6); 0 for
// anything else. Names are matched without regard to case.
func LogLevelRank(level string) int {
	for i, l := range applicationLogLevels {
		if strings.EqualFold(l, level) {
			return i + 1
		}
	}
	return 0
}

// LogSource is where the lines of one execution environment go: its
// function, the log group and stream, and how they are written.
type LogSource struct {
	Function string // the function's AccountKey
	Account  string // the function's account; "" for the node's own
	Version  string
	Group    string // the log group's name
	Stream   string // YYYY/MM/DD/[version]<32 hex>
	JSON     bool   // LogFormat JSON: platform lines are JSON records
	// AppLevel and SystemLevel are the LogLevelRank below which
	// application and platform lines are left out (JSON only); 0 keeps all.
	AppLevel, SystemLevel int
}

// NewLogSource returns the source of an environment of cfg with the given
// stream.
func NewLogSource(cfg *SandboxConfig, stream string) *LogSource {
	l := cfg.Logging
	return &LogSource{Function: cfg.Key(), Account: cfg.Account, Version: cfg.Version,
		Group: l.Group(cfg.Function), Stream: stream, JSON: l.Format() == LogFormatJSON,
		AppLevel: LogLevelRank(l.ApplicationLogLevel), SystemLevel: LogLevelRank(l.SystemLogLevel)}
}

// Keeps reports whether an application line is written under s's
// ApplicationLogLevel: the level of a JSON object is its "level" member;
// that of any other line, or of an object with no valid level, INFO.
func (s *LogSource) Keeps(line []byte) bool {
	if s.AppLevel <= 1 {
		return true
	}
	r := infoRank
	if len(line) > 0 && line[0] == '{' {
		var rec struct {
			Level string `json:"level"`
		}
		if json.Unmarshal(line, &rec) == nil {
			r = cmp.Or(LogLevelRank(rec.Level), infoRank)
		}
	}
	return r >= s.AppLevel
}

var infoRank = LogLevelRank(DefaultLogLevel)

// KeepsPlatform reports whether platform records of level (INFO for
// START, END and REPORT) are written under s's SystemLogLevel.
func (s *LogSource) KeepsPlatform(level string) bool {
	return !s.JSON || LogLevelRank(level) >= s.SystemLevel
}

// LogEvent is one event of a log stream: a line, with the time it was
// written and the time the store took it, in milliseconds since the epoch.
type LogEvent struct {
	Stream    string
	Time      int64
	Ingestion int64
	Message   string
	// Position orders the events of a log group; the store assigns it.
	Position uint64
}

// LogGroup is a log group: created when a function first writes to it, or
// by CreateLogGroup.
type LogGroup struct {
	Name          string `json:"name"`
	Account       string `json:"account,omitempty"` // "" for the node's own
	Created       int64  `json:"created"`           // ms since the epoch
	RetentionDays int    `json:"retentionDays,omitempty"`
}

// LogStream is one stream of a log group: the lines of one execution
// environment.
type LogStream struct {
	Name                           string
	Created, FirstEvent, LastEvent int64 // ms since the epoch
	LastIngestion                  int64
}

// RetentionDays are the retentions a log group may have (PutRetentionPolicy).
var RetentionDays = []int{1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}

// RetentionDaysList is RetentionDays as AWS prints it in its messages.
func RetentionDaysList() string {
	s := make([]string, len(RetentionDays))
	for i, d := range RetentionDays {
		s[i] = strconv.Itoa(d)
	}
	return "[" + strings.Join(s, ", ") + "]"
}

// LogScan says which events of a log group a store reads.
type LogScan struct {
	Account, Group string
	Streams        []string // of these streams only; all when empty
	// From is the Position of the first event to read (zero: the first
	// of all, or the first ingested at Since or later).
	From  uint64
	Since time.Time
}

// LogBatch is events of one log stream, in order, as a store takes them.
type LogBatch struct {
	Account string // the log group's account; "" for the node's own
	Group   string
	Stream  string
	Events  []LogEvent
}
