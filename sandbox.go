package lambada

import (
	"cmp"
	"time"
)

// SandboxConfig is what one execution environment (a sandbox) runs: one
// version of a function at one generation of its configuration, with its
// code unpacked in CodeDir.
type SandboxConfig struct {
	Function    string
	Account     string // the function's account when not the node's own
	Version     string
	Generation  uint64 // increases whenever code or configuration changes
	Runtime     string
	Handler     string
	Role        string // the execution role's ARN
	MemorySize  int    // MB
	Timeout     time.Duration
	Environment map[string]string
	CodeDir     string // the unpacked code: LAMBDA_TASK_ROOT and the working directory (at /var/task inside walls)
	OptDir      string // its layers, merged: /opt inside walls ("": none)
	Region      string
	TmpMB       int // the size of /tmp (EphemeralStorage)
	Logging     LoggingConfig

	InitializationType string        // AWS_LAMBDA_INITIALIZATION_TYPE; "on-demand" when empty
	InitTimeout        time.Duration // how long init may take; the sandbox's default when zero
}

// NewSandboxConfig returns what an environment of configuration cfg of the
// function named name runs in region, its code unpacked in dir.
func NewSandboxConfig(region, name string, cfg *FunctionConfig, dir string) *SandboxConfig {
	return &SandboxConfig{
		Function:    name,
		Version:     cfg.Version,
		Generation:  cfg.Generation(),
		Runtime:     cfg.Runtime,
		Handler:     cfg.Handler,
		Role:        cfg.Role,
		MemorySize:  cfg.MemorySize,
		Timeout:     time.Duration(cfg.Timeout) * time.Second,
		Environment: cfg.Environment,
		CodeDir:     dir,
		Region:      region,
		TmpMB:       cmp.Or(cfg.EphemeralStorage, DefaultEphemeralStorage),
		Logging:     cfg.Logging,
	}
}

// InitType is the environment's AWS_LAMBDA_INITIALIZATION_TYPE: on-demand
// unless InitializationType says otherwise.
func (c *SandboxConfig) InitType() string {
	if c.InitializationType == "" {
		return "on-demand"
	}
	return c.InitializationType
}

// Key is the AccountKey of the configuration's function.
func (c *SandboxConfig) Key() string { return AccountKey("", c.Account, c.Function) }

// SandboxTarget is a number of environments of one configuration to keep
// initialised ahead of time (provisioned concurrency).
type SandboxTarget struct {
	Config *SandboxConfig
	N      int
}
