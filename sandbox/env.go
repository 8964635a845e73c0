package sandbox

import (
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"strings"
	"time"

	"github.com/lambada-dev/lambada"
)

// environ returns the process environment of an execution environment
// whose code is at taskRoot:
// Lambda's variables and the function's own, nothing inherited from the
// server (docs/aws-behaviour.md §8.5). The function's variables cannot
// override Lambda's reserved ones (CreateFunction rejects them anyway).
func environ(cfg *lambada.SandboxConfig, taskRoot, runtimeAPI string, src *lambada.LogSource) []string {
	env := make([]string, 0, 24+len(cfg.Environment))
	for k, v := range cfg.Environment {
		env = append(env, k+"="+v)
	}
	if cfg.Logging.Format() == lambada.LogFormatJSON {
		// The managed runtimes write JSON and leave out the levels below
		// AWS_LAMBDA_LOG_LEVEL themselves.
		env = append(env, "AWS_LAMBDA_LOG_FORMAT=JSON", "AWS_LAMBDA_LOG_LEVEL="+cfg.Logging.ApplicationLogLevel)
	}
	switch { // a managed runtime's own variables
	case strings.HasPrefix(cfg.Runtime, "nodejs"):
		major := strings.TrimSuffix(strings.TrimPrefix(cfg.Runtime, "nodejs"), ".x")
		env = append(env, "AWS_EXECUTION_ENV=AWS_Lambda_"+cfg.Runtime,
			"NODE_PATH=/opt/nodejs/node"+major+"/node_modules:/opt/nodejs/node_modules:/var/runtime/node_modules:/var/runtime:"+taskRoot)
	case strings.HasPrefix(cfg.Runtime, "python"):
		env = append(env, "AWS_EXECUTION_ENV=AWS_Lambda_"+cfg.Runtime)
	}
	return append(env,
		"_HANDLER="+cfg.Handler,
		"AWS_LAMBDA_RUNTIME_API="+runtimeAPI,
		"LAMBDA_TASK_ROOT="+taskRoot,
		"LAMBDA_RUNTIME_DIR=/var/runtime",
		"AWS_LAMBDA_FUNCTION_NAME="+cfg.Function,
		"AWS_LAMBDA_FUNCTION_VERSION="+cfg.Version,
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE="+strconv.Itoa(cfg.MemorySize),
		"AWS_LAMBDA_LOG_GROUP_NAME="+src.Group,
		"AWS_LAMBDA_LOG_STREAM_NAME="+src.Stream,
		"AWS_LAMBDA_INITIALIZATION_TYPE="+cfg.InitType(),
		"AWS_REGION="+cfg.Region,
		"AWS_DEFAULT_REGION="+cfg.Region,
		"AWS_XRAY_CONTEXT_MISSING=LOG_ERROR",
		"TZ=:UTC",
		"LANG=en_US.UTF-8",
		"PATH=/usr/local/bin:/usr/bin/:/bin:/opt/bin",
		"LD_LIBRARY_PATH=/lib64:/usr/lib64:"+taskRoot+":"+taskRoot+"/lib:/opt/lib",
		"PWD="+taskRoot,
		"SHLVL=0",
	)
}

// environ is the environment of a new execution environment: environ's,
// and its execution role's credentials when m gives them.
func (m *Manager) environ(cfg *lambada.SandboxConfig, taskRoot, runtimeAPI string, src *lambada.LogSource) []string {
	env := environ(cfg, taskRoot, runtimeAPI, src)
	if m.Credentials != nil && cfg.Role != "" {
		env = append(env, m.Credentials(cfg.Role)...)
	}
	return env
}

// logStream is a new log stream name: YYYY/MM/DD/[version]<32 hex>.
func logStream(version string, now time.Time) string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return now.UTC().Format("2006/01/02") + "/[" + version + "]" + hex.EncodeToString(b[:])
}
