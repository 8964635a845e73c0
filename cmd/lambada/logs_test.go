package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/lambada-dev/lambada"
	"github.com/lambada-dev/lambada/internal/poll"
)

// printEvent is the test function's event that prints msg to stdout and
// "stderr:"+msg to stderr.
func printEvent(msg string) []byte {
	b, _ := json.Marshal(map[string]any{"action": "print", "msg": msg})
	return b
}

// storedLines returns the messages the node keeps of group.
func storedLines(t *testing.T, m *Main, group string) []string {
	t.Helper()
	var got []string
	err := m.node.Logs.Scan(context.Background(), lambada.LogScan{Group: group}, func(e lambada.LogEvent) bool {
		got = append(got, e.Message)
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// waitLines waits until group holds n lines starting with prefix.
func waitLines(t *testing.T, m *Main, group, prefix string, n int) []string {
	t.Helper()
	var got []string
	poll.Until(t, 30*time.Second, group+" holds its lines", func() bool {
		got = storedLines(t, m, group)
		c := 0
		for _, l := range got {
			if strings.HasPrefix(l, prefix) {
				c++
			}
		}
		return c >= n
	})
	return got
}

// TestLogs_Boto3 runs testdata/logs.py over the logs of four invocations:
// every operation of the Logs API through boto3, one subtest per case.
func TestLogs_Boto3(t *testing.T) {
	t.Parallel()
	m := MustOpenMain(t, "")
	c := client(m)
	MustCreateFunction(t, c, "logger", 10, nil)
	for _, msg := range []string{`{"level":"ERROR","msg":"disk full"}`, "user alice logged in", `{"level":"INFO","msg":"ok","ms":250}`, "plain line"} {
		sdkInvoke(t, c, &lambda.InvokeInput{FunctionName: aws.String("logger"), Payload: printEvent(msg)})
	}
	waitLines(t, m, "/aws/lambda/logger", "REPORT RequestId: ", 4)
	runCases(t, "testdata/logs.py", 8, "LAMBADA_ENDPOINT=http://"+m.Addr(), "FUNCTION=logger")
}

// TestLogs_CLI reads a function's logs with the AWS CLI, and again after
// the node restarts.
func TestLogs_CLI(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	m := MustOpenMain(t, dir)
	c := client(m)
	MustCreateFunction(t, c, "cli-logs", 10, nil)
	_, id := sdkInvoke(t, c, &lambda.InvokeInput{FunctionName: aws.String("cli-logs"), Payload: printEvent("hello from the cli test")})
	waitLines(t, m, "/aws/lambda/cli-logs", "REPORT RequestId: "+id, 1)
	filter := func(m *Main) []string {
		t.Helper()
		stdout, stderr, code := awsCLI(t, m, "logs", "filter-log-events", "--log-group-name", "/aws/lambda/cli-logs", "--filter-pattern", `"RequestId: `+id+`"`)
		if code != 0 {
			t.Fatalf("filter-log-events: %d %s", code, stderr)
		}
		var out struct{ Events []struct{ Message string } }
		if err := json.Unmarshal([]byte(stdout), &out); err != nil {
			t.Fatalf("filter-log-events printed %q", stdout)
		}
		var got []string
		for _, e := range out.Events {
			got = append(got, e.Message)
		}
		return got
	}
	got := filter(m)
	if len(got) != 3 || got[0] != "START RequestId: "+id+" Version: $LATEST\n" || got[1] != "END RequestId: "+id+"\n" ||
		!strings.HasPrefix(got[2], "REPORT RequestId: "+id+"\tDuration: ") {
		t.Fatalf("the invocation's platform lines: %q", got)
	}
	stdout, _, code := awsCLI(t, m, "logs", "describe-log-groups")
	if code != 0 || !strings.Contains(stdout, `"logGroupName": "/aws/lambda/cli-logs"`) {
		t.Fatalf("describe-log-groups: %d %s", code, stdout)
	}
	_, stderr, code := awsCLI(t, m, "logs", "get-log-events", "--log-group-name", "/aws/lambda/none", "--log-stream-name", "x")
	if code == 0 || !strings.Contains(stderr, "(ResourceNotFoundException) when calling the GetLogEvents operation: The specified log group does not exist.") {
		t.Fatalf("get-log-events of a missing group: %d %s", code, stderr)
	}

	// aws logs start-live-tail prints the new lines until it is stopped.
	// botocore puts its host prefix ("stream-") before any endpoint: a
	// local one needs it off.
	tail := awsCommand(m, []string{"AWS_DISABLE_HOST_PREFIX_INJECTION=true"}, "logs", "start-live-tail",
		"--log-group-identifiers", "arn:aws:logs:us-east-1:000000000000:log-group:/aws/lambda/cli-logs")
	var tailed syncBuffer
	tail.Stdout, tail.Stderr = &tailed, &tailed
	if err := tail.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tail.Process.Kill(); tail.Wait() })
	// Its session starts when the CLI has started: a line every 200 ms
	// until one is printed.
	polls := 0
	poll.Until(t, 30*time.Second, "aws logs start-live-tail prints lines", func() bool {
		if polls++; polls%100 == 1 {
			sdkInvoke(t, c, &lambda.InvokeInput{FunctionName: aws.String("cli-logs"), Payload: printEvent("tailed live")})
		}
		return strings.Contains(tailed.String(), "tailed live\n")
	})

	m.Close()
	m = MustOpenMain(t, dir)
	if again := filter(m); len(again) != 3 {
		t.Fatalf("after a restart: %q", again)
	}
}

// TestLogs_Retention: events older than --log-retention go.
func TestLogs_Retention(t *testing.T) {
	t.Parallel()
	m := MustOpenMain(t, "", func(m *Main) { m.LogRetention, m.LogSweepEvery = 3*time.Second, 50*time.Millisecond })
	c := client(m)
	MustCreateFunction(t, c, "short-lived", 10, nil)
	sdkInvoke(t, c, &lambda.InvokeInput{FunctionName: aws.String("short-lived"), Payload: printEvent("soon gone")})
	waitLines(t, m, "/aws/lambda/short-lived", "REPORT", 1)
	poll.Until(t, 30*time.Second, "the events expire", func() bool { return len(storedLines(t, m, "/aws/lambda/short-lived")) == 0 })
}

// TestLogs_LoggingConfig: LoggingConfig's validation, its JSON format
// (platform records, application levels) and its log group.
func TestLogs_LoggingConfig(t *testing.T) {
	t.Parallel()
	m := MustOpenMain(t, "")
	c := client(m)
	ctx := context.Background()
	MustCreateFunction(t, c, "structured", 10, nil)
	cfg, err := c.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("structured")})
	if err != nil || cfg.LoggingConfig.LogFormat != types.LogFormatText || aws.ToString(cfg.LoggingConfig.LogGroup) != "/aws/lambda/structured" ||
		cfg.LoggingConfig.ApplicationLogLevel != "" {
		t.Fatalf("default LoggingConfig %+v, %v", cfg.LoggingConfig, err)
	}
	_, err = c.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("structured"),
		LoggingConfig: &types.LoggingConfig{ApplicationLogLevel: types.ApplicationLogLevelWarn}})
	if apiErrorCode(err) != "InvalidParameterValueException" || !strings.Contains(err.Error(), `LogLevel is not supported when LogFormat is set to "Text". Remove LogLevel from your request or change the LogFormat to "JSON" and try again.`) {
		t.Fatalf("a level with Text: %v", err)
	}
	_, err = c.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("structured"),
		LoggingConfig: &types.LoggingConfig{LogFormat: "XML"}})
	if apiErrorCode(err) != "ValidationException" || !strings.Contains(err.Error(), "Value 'XML' at 'loggingConfig.logFormat' failed to satisfy constraint: Member must satisfy enum value set: [JSON, Text]") {
		t.Fatalf("LogFormat XML: %v", err)
	}
	out, err := c.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("structured"),
		LoggingConfig: &types.LoggingConfig{LogFormat: types.LogFormatJson, LogGroup: aws.String("/custom/structured")}})
	if err != nil || out.LoggingConfig.ApplicationLogLevel != types.ApplicationLogLevelInfo || out.LoggingConfig.SystemLogLevel != types.SystemLogLevelInfo ||
		aws.ToString(out.LoggingConfig.LogGroup) != "/custom/structured" {
		t.Fatalf("JSON: %+v, %v", out.LoggingConfig, err)
	}
	MustSettle(t, c, "structured")
	if _, err := c.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("structured"),
		LoggingConfig: &types.LoggingConfig{ApplicationLogLevel: types.ApplicationLogLevelWarn}}); err != nil {
		t.Fatal(err)
	}
	MustSettle(t, c, "structured")
	for _, msg := range []string{`{"level":"INFO","msg":"left out"}`, `{"level":"ERROR","msg":"kept"}`} {
		res, id := sdkInvoke(t, c, &lambda.InvokeInput{FunctionName: aws.String("structured"), Payload: printEvent(msg), LogType: types.LogTypeTail})
		tail, _ := base64.StdEncoding.DecodeString(aws.ToString(res.LogResult))
		if !strings.Contains(string(tail), `"type":"platform.start","record":{"requestId":"`+id+`","version":"$LATEST"}}`) {
			t.Errorf("the log tail has no platform.start record:\n%s", tail)
		}
	}
	got := strings.Join(waitLines(t, m, "/custom/structured", `{"time":`, 4), "")
	if strings.Contains(got, "left out") || !strings.Contains(got, `{"level":"ERROR","msg":"kept"}`) ||
		!strings.Contains(got, `"type":"platform.report","record":{"requestId":"`) || strings.Contains(got, "END RequestId") ||
		!strings.Contains(got, `"type":"platform.initStart","record":{"initializationType":"on-demand","phase":"init","runtimeVersion":"provided:al2023.lambada-1",`) {
		t.Errorf("the JSON log:\n%s", got)
	}
	if lines := storedLines(t, m, "/aws/lambda/structured"); len(lines) != 0 {
		t.Errorf("the default group holds %q", lines)
	}
}
