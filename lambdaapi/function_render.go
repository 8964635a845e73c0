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
	FunctionName               string               `json:"FunctionName"`
	FunctionArn                string               `json:"FunctionArn"`
	Runtime                    string               `json:"Runtime"`
	Role                       string               `json:"Role"`
	Handler                    string               `json:"Handler"`
	CodeSize                   int64                `json:"CodeSize"`
	Description                string               `json:"Description"`
	Timeout                    int                  `json:"Timeout"`
	MemorySize                 int                  `json:"MemorySize"`
	LastModified               string               `json:"LastModified"`
	CodeSha256                 string               `json:"CodeSha256"`
	Version                    string               `json:"Version"`
	Environment                *environmentResponse `json:"Environment,omitempty"`
	TracingConfig              tracingConfig        `json:"TracingConfig"`
	RevisionID                 string               `json:"RevisionId"`
	State                      string               `json:"State,omitempty"`
	StateReason                string               `json:"StateReason,omitempty"`
	StateReasonCode            string               `json:"StateReasonCode,omitempty"`
	LastUpdateStatus           string               `json:"LastUpdateStatus,omitempty"`
	LastUpdateStatusReason     string               `json:"LastUpdateStatusReason,omitempty"`
	LastUpdateStatusReasonCode string               `json:"LastUpdateStatusReasonCode,omitempty"`
	PackageType                string               `json:"PackageType"`
	Architectures              []string             `json:"Architectures"`
	EphemeralStorage           ephemeralStorage     `json:"EphemeralStorage"`
	SnapStart                  snapStart            `json:"SnapStart"`
	LoggingConfig              loggingConfig        `json:"LoggingConfig"`
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
	LogFormat string `json:"LogFormat"`
	LogGroup  string `json:"LogGroup"`
}

// status says which State and LastUpdateStatus a rendering carries.
type status int

const (
	statusActive   status = iota // Get: Active, last update Successful
	statusCreating               // CreateFunction's answer, or a version published by an update: Pending, no last update
	statusUpdating               // Update*'s answer: Active, last update InProgress
	statusListed                 // ListFunctions: AWS shows neither
)

// configuration renders f's $LATEST. qualifier is "" for an unqualified
// FunctionArn or "$LATEST" for a qualified one.
func (s *Server) configuration(f *lambada.Function, qualifier string, st status) *functionConfiguration {
	return s.render(f.Name, &f.Latest, qualifier, st)
}

// render renders c, a configuration of the function named name, with the
// FunctionArn qualified by qualifier ("" for an unqualified one).
func (s *Server) render(name string, c *lambada.FunctionConfig, qualifier string, st status) *functionConfiguration {
	out := &functionConfiguration{
		FunctionName:     name,
		FunctionArn:      lambada.FunctionARN(s.Region, s.Account, name, qualifier),
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
		LoggingConfig:    loggingConfig{LogFormat: "Text", LogGroup: "/aws/lambda/" + name},
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
	if len(c.Environment) > 0 {
		out.Environment = &environmentResponse{Variables: maps.Clone(c.Environment)}
	}
	switch st {
	case statusActive:
		out.State, out.LastUpdateStatus = "Active", "Successful"
	case statusCreating:
		out.State, out.StateReason, out.StateReasonCode = "Pending", "The function is being created.", "Creating"
	case statusUpdating:
		out.State = "Active"
		// "created", verbatim: AWS says so for updates too.
		out.LastUpdateStatus = "InProgress"
		out.LastUpdateStatusReason = "The function is being created."
		out.LastUpdateStatusReasonCode = "Creating"
	}
	return out
}
