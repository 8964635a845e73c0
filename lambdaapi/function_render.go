package lambdaapi

import (
	"maps"
	"slices"

	"github.com/lambada-dev/lambada"
)

// lastModifiedLayout is how AWS renders FunctionConfiguration.LastModified.
const lastModifiedLayout = "2006-01-02T15:04:05.000-0700"

// functionConfiguration is the FunctionConfiguration shape as AWS renders it
// for a Zip function (the members Lambada has; the rest are omitted).
type functionConfiguration struct {
	FunctionName               string                `json:"FunctionName"`
	FunctionArn                string                `json:"FunctionArn"`
	Runtime                    string                `json:"Runtime"`
	Role                       string                `json:"Role"`
	Handler                    string                `json:"Handler"`
	CodeSize                   int64                 `json:"CodeSize"`
	Description                string                `json:"Description"`
	Timeout                    int                   `json:"Timeout"`
	MemorySize                 int                   `json:"MemorySize"`
	LastModified               string                `json:"LastModified"`
	CodeSha256                 string                `json:"CodeSha256"`
	Version                    string                `json:"Version"`
	Environment                *environmentResponse  `json:"Environment,omitempty"`
	TracingConfig              tracingConfig         `json:"TracingConfig"`
	RevisionID                 string                `json:"RevisionId"`
	State                      string                `json:"State,omitempty"`
	StateReason                string                `json:"StateReason,omitempty"`
	StateReasonCode            string                `json:"StateReasonCode,omitempty"`
	LastUpdateStatus           string                `json:"LastUpdateStatus,omitempty"`
	LastUpdateStatusReason     string                `json:"LastUpdateStatusReason,omitempty"`
	LastUpdateStatusReasonCode string                `json:"LastUpdateStatusReasonCode,omitempty"`
	PackageType                string                `json:"PackageType"`
	Architectures              []string              `json:"Architectures"`
	EphemeralStorage           ephemeralStorage      `json:"EphemeralStorage"`
	SnapStart                  snapStart             `json:"SnapStart"`
	LoggingConfig              loggingConfig         `json:"LoggingConfig"`
	RuntimeVersionConfig       *runtimeVersionConfig `json:"RuntimeVersionConfig,omitempty"`
	DeadLetterConfig           *deadLetterConfig     `json:"DeadLetterConfig,omitempty"`
	Layers                     []layerOut            `json:"Layers,omitempty"`
}

type runtimeVersionConfig struct {
	RuntimeVersionArn string `json:"RuntimeVersionArn"`
}

type environmentResponse struct {
	Variables map[string]string `json:"Variables"`
}

type tracingConfig struct {
	Mode string `json:"Mode"`
}

type ephemeralStorage struct {
	Size int `json:"Size"`
}

type snapStart struct {
	ApplyOn            string `json:"ApplyOn"`
	OptimizationStatus string `json:"OptimizationStatus"`
}

type loggingConfig struct {
	LogFormat           string `json:"LogFormat"`
	ApplicationLogLevel string `json:"ApplicationLogLevel,omitempty"`
	SystemLogLevel      string `json:"SystemLogLevel,omitempty"`
	LogGroup            string `json:"LogGroup"`
}

// view says what a rendering shows: a configuration as the Get, Create,
// Update and Publish operations answer it, or as an item of a list, which AWS
// gives without its state and its runtime version.
type view int

const (
	viewFull view = iota
	viewListed
)

// configuration renders f's $LATEST with an unqualified FunctionArn.
func (s *Server) configuration(f *lambada.Function) *functionConfiguration {
	return s.render(f, &f.Latest, "", viewFull)
}

// render renders c, a configuration of the function f, with the
// FunctionArn qualified by qualifier ("" for an unqualified one).
func (s *Server) render(f *lambada.Function, c *lambada.FunctionConfig, qualifier string, v view) *functionConfiguration {
	out := &functionConfiguration{
		FunctionName:     f.Name,
		FunctionArn:      s.arn(f, qualifier),
		Runtime:          c.Runtime,
		Role:             c.Role,
		Handler:          c.Handler,
		CodeSize:         c.CodeSize,
		Description:      c.Description,
		Timeout:          c.Timeout,
		MemorySize:       c.MemorySize,
		LastModified:     c.LastModified.UTC().Format(lastModifiedLayout),
		CodeSha256:       c.CodeSha256,
		Version:          c.Version,
		TracingConfig:    tracingConfig{Mode: "PassThrough"},
		RevisionID:       c.RevisionID,
		PackageType:      c.PackageType,
		Architectures:    slices.Clone(c.Architectures),
		EphemeralStorage: ephemeralStorage{Size: c.EphemeralStorage},
		SnapStart:        snapStart{ApplyOn: "None", OptimizationStatus: "Off"},
		LoggingConfig: loggingConfig{LogFormat: c.Logging.Format(), ApplicationLogLevel: c.Logging.ApplicationLogLevel,
			SystemLogLevel: c.Logging.SystemLogLevel, LogGroup: c.Logging.Group(f.Name)},
	}
	if out.Version == "" {
		out.Version = lambada.LatestVersion
	}
	if out.PackageType == "" {
		out.PackageType = lambada.PackageTypeZip
	}
	if len(out.Architectures) == 0 {
		out.Architectures = []string{lambada.ArchitectureX86}
	}
	if out.EphemeralStorage.Size == 0 {
		out.EphemeralStorage.Size = lambada.DefaultEphemeralStorage
	}
	if c.HasEnvironment || len(c.Environment) > 0 {
		out.Environment = &environmentResponse{Variables: maps.Clone(c.Environment)}
		if out.Environment.Variables == nil {
			out.Environment.Variables = map[string]string{}
		}
	}
	out.Layers = renderLayers(c.Layers)
	if c.DeadLetterTarget != "" {
		out.DeadLetterConfig = &deadLetterConfig{TargetArn: &c.DeadLetterTarget}
	}
	if v == viewFull {
		st := c.Status.Shown()
		out.State, out.StateReason, out.StateReasonCode = st.State, st.StateReason, st.StateReasonCode
		out.LastUpdateStatus, out.LastUpdateStatusReason, out.LastUpdateStatusReasonCode = st.LastUpdateStatus, st.LastUpdateStatusReason, st.LastUpdateStatusReasonCode
		out.RuntimeVersionConfig = &runtimeVersionConfig{RuntimeVersionArn: lambada.RuntimeVersionARN(s.Region, c.Runtime)}
	}
	return out
}
