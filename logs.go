package lambada

import (
	"fmt"
	"math"
	"time"
)

// StartLine is the platform's first log line of an invocation.
func StartLine(requestID, version string) string {
	return "START RequestId: " + requestID + " Version: " + version + "\n"
}

// EndLine is the platform's line when the runtime has finished an invocation.
func EndLine(requestID string) string { return "END RequestId: " + requestID + "\n" }

// Report is what the REPORT line says of one invocation.
type Report struct {
	RequestID     string
	Duration      time.Duration
	MemorySize    int           // MB configured
	MaxMemoryUsed int           // MB measured
	InitDuration  time.Duration // zero unless this invocation started the environment
	Status        string        // "" or e.g. "timeout", "error"
	ErrorType     string
}

// Line renders r exactly as AWS does, tab-separated with a trailing tab.
func (r Report) Line() string {
	ms := float64(r.Duration) / float64(time.Millisecond)
	s := fmt.Sprintf("REPORT RequestId: %s\tDuration: %.2f ms\tBilled Duration: %d ms\tMemory Size: %d MB\tMax Memory Used: %d MB\t",
		r.RequestID, ms, int64(math.Ceil(ms)), r.MemorySize, r.MaxMemoryUsed)
	if r.InitDuration > 0 {
		s += fmt.Sprintf("Init Duration: %.2f ms\t", float64(r.InitDuration)/float64(time.Millisecond))
	}
	if r.Status != "" {
		s += "Status: " + r.Status + "\t"
		if r.ErrorType != "" {
			s += "Error Type: " + r.ErrorType + "\t"
		}
	}
	return s + "\n"
}

// FaultLines are the lines that follow REPORT when the platform ended an
// invocation: "RequestId: <id> Error: <msg>\n<Type>\n".
func (f FunctionFault) FaultLines() string { return f.Message + "\n" + f.Type + "\n" }

// Tail returns the last LogTailSize bytes of log.
func Tail(log []byte) []byte {
	if len(log) > LogTailSize {
		return log[len(log)-LogTailSize:]
	}
	return log
}

// TimeoutMessage is AWS's text for a timeout of the given configured seconds.
func TimeoutMessage(seconds int) string {
	return fmt.Sprintf("Task timed out after %.2f seconds", float64(seconds))
}
