package lambada

import (
	"fmt"
	"math"
	"strconv"
	"time"
)

// StartLine is the platform's first log line of an invocation.
func StartLine(requestID, version string) string {
	return "START RequestId: " + requestID + " Version: " + version + "\n"
}

// EndLine is the platform's line when the runtime has finished an invocation.
func EndLine(requestID string) string { return "END RequestId: " + requestID + "\n" }

// AppendEnd appends EndLine to b.
func AppendEnd(b []byte, requestID string) []byte {
	b = append(b, "END RequestId: "...)
	b = append(b, requestID...)
	return append(b, '\n')
}

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
func (r Report) Line() string { return string(r.Append(nil)) }

// Append appends r's line to b, without formatting through reflection: it
// is written once per invocation.
func (r Report) Append(b []byte) []byte {
	ms := float64(r.Duration) / float64(time.Millisecond)
	b = append(b, "REPORT RequestId: "...)
	b = append(b, r.RequestID...)
	b = append(b, "\tDuration: "...)
	b = strconv.AppendFloat(b, ms, 'f', 2, 64)
	b = append(b, " ms\tBilled Duration: "...)
	b = strconv.AppendInt(b, int64(math.Ceil(ms)), 10)
	b = append(b, " ms\tMemory Size: "...)
	b = strconv.AppendInt(b, int64(r.MemorySize), 10)
	b = append(b, " MB\tMax Memory Used: "...)
	b = strconv.AppendInt(b, int64(r.MaxMemoryUsed), 10)
	b = append(b, " MB\t"...)
	if r.InitDuration > 0 {
		b = append(b, "Init Duration: "...)
		b = strconv.AppendFloat(b, float64(r.InitDuration)/float64(time.Millisecond), 'f', 2, 64)
		b = append(b, " ms\t"...)
	}
	if r.Status != "" {
		b = append(b, "Status: "...)
		b = append(b, r.Status...)
		b = append(b, '\t')
		if r.ErrorType != "" {
			b = append(b, "Error Type: "...)
			b = append(b, r.ErrorType...)
			b = append(b, '\t')
		}
	}
	return append(b, '\n')
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

// AppendStartJSON appends the platform.start record of the JSON log format.
func AppendStartJSON(b []byte, at time.Time, requestID, version string) []byte {
	b = appendRecordHead(b, at, "platform.start")
	b = append(b, `{"requestId":`...)
	b = strconv.AppendQuote(b, requestID)
	b = append(b, `,"version":`...)
	b = strconv.AppendQuote(b, version)
	return append(b, "}}\n"...)
}

// AppendRuntimeDoneJSON appends the platform.runtimeDone record of the JSON
// log format: the END line's.
func AppendRuntimeDoneJSON(b []byte, at time.Time, r Report) []byte {
	b = appendRecordHead(b, at, "platform.runtimeDone")
	b = append(b, `{"requestId":`...)
	b = strconv.AppendQuote(b, r.RequestID)
	b = append(b, `,"status":`...)
	b = strconv.AppendQuote(b, r.status())
	return append(b, "}}\n"...)
}

// AppendJSON appends r as the platform.report record of the JSON log
// format.
func (r Report) AppendJSON(b []byte, at time.Time) []byte {
	ms := float64(r.Duration) / float64(time.Millisecond)
	b = appendRecordHead(b, at, "platform.report")
	b = append(b, `{"requestId":`...)
	b = strconv.AppendQuote(b, r.RequestID)
	b = append(b, `,"metrics":{"durationMs":`...)
	b = strconv.AppendFloat(b, math.Round(ms*100)/100, 'f', -1, 64)
	b = append(b, `,"billedDurationMs":`...)
	b = strconv.AppendInt(b, int64(math.Ceil(ms)), 10)
	b = append(b, `,"memorySizeMB":`...)
	b = strconv.AppendInt(b, int64(r.MemorySize), 10)
	b = append(b, `,"maxMemoryUsedMB":`...)
	b = strconv.AppendInt(b, int64(r.MaxMemoryUsed), 10)
	if r.InitDuration > 0 {
		b = append(b, `,"initDurationMs":`...)
		b = strconv.AppendFloat(b, math.Round(float64(r.InitDuration)/float64(time.Millisecond)*100)/100, 'f', -1, 64)
	}
	b = append(b, `},"status":`...)
	b = strconv.AppendQuote(b, r.status())
	if r.ErrorType != "" {
		b = append(b, `,"errorType":`...)
		b = strconv.AppendQuote(b, r.ErrorType)
	}
	return append(b, "}}\n"...)
}

// status is r's status as the JSON records give it: success, error or
// timeout.
func (r Report) status() string {
	if r.Status == "" {
		return "success"
	}
	return r.Status
}

// appendRecordHead appends a JSON platform record up to its "record"
// member's value.
func appendRecordHead(b []byte, at time.Time, typ string) []byte {
	b = append(b, `{"time":"`...)
	b = at.UTC().AppendFormat(b, "2006-01-02T15:04:05.000Z")
	b = append(b, `","type":"`...)
	b = append(b, typ...)
	return append(b, `","record":`...)
}

// InitStartLine is the platform's line when an execution environment of
// runtime starts: INIT_START Runtime Version: …\tRuntime Version ARN: …
func InitStartLine(region, runtime string) string {
	return "INIT_START Runtime Version: " + RuntimeVersion(runtime) + "\tRuntime Version ARN: " + RuntimeVersionARN(region, runtime) + "\n"
}

// AppendInitStartJSON appends the platform.initStart record of the JSON
// log format for an environment of cfg.
func AppendInitStartJSON(b []byte, at time.Time, cfg *SandboxConfig) []byte {
	b = appendRecordHead(b, at, "platform.initStart")
	b = append(b, `{"initializationType":`...)
	b = strconv.AppendQuote(b, cfg.InitType())
	b = append(b, `,"phase":"init","runtimeVersion":`...)
	b = strconv.AppendQuote(b, RuntimeVersion(cfg.Runtime))
	b = append(b, `,"runtimeVersionArn":`...)
	b = strconv.AppendQuote(b, RuntimeVersionARN(cfg.Region, cfg.Runtime))
	b = append(b, `,"functionName":`...)
	b = strconv.AppendQuote(b, cfg.Function)
	b = append(b, `,"functionVersion":`...)
	b = strconv.AppendQuote(b, cfg.Version)
	return append(b, "}}\n"...)
}

// AppendInitReport appends the INIT_REPORT line of an init that failed
// with status ("error" or "timeout") after took, and errorType ("" for
// none): INIT_REPORT Init Duration: 206.72 ms\tPhase: init\tStatus: error\tError Type: Runtime.ExitError
func AppendInitReport(b []byte, took time.Duration, status, errorType string) []byte {
	b = append(b, "INIT_REPORT Init Duration: "...)
	b = strconv.AppendFloat(b, float64(took)/float64(time.Millisecond), 'f', 2, 64)
	b = append(b, " ms\tPhase: init\tStatus: "...)
	b = append(b, status...)
	if errorType != "" {
		b = append(b, "\tError Type: "...)
		b = append(b, errorType...)
	}
	return append(b, '\n')
}

// AppendInitReportJSON appends the platform.initReport record of the JSON
// log format of an init that failed.
func AppendInitReportJSON(b []byte, at time.Time, cfg *SandboxConfig, took time.Duration, status, errorType string) []byte {
	b = appendRecordHead(b, at, "platform.initReport")
	b = append(b, `{"initializationType":`...)
	b = strconv.AppendQuote(b, cfg.InitType())
	b = append(b, `,"phase":"init","status":`...)
	b = strconv.AppendQuote(b, status)
	if errorType != "" {
		b = append(b, `,"errorType":`...)
		b = strconv.AppendQuote(b, errorType)
	}
	b = append(b, `,"metrics":{"durationMs":`...)
	b = strconv.AppendFloat(b, math.Round(float64(took)/float64(time.Millisecond)*1000)/1000, 'f', -1, 64)
	return append(b, "}}}\n"...)
}
