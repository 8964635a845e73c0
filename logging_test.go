package lambada_test

import (
	"strings"
	"testing"

	"github.com/lambada-dev/lambada"
)

func TestLoggingSetting(t *testing.T) {
	json := lambada.LoggingConfig{LogFormat: "JSON", ApplicationLogLevel: "WARN", SystemLogLevel: "INFO"}
	for _, c := range []struct {
		name    string
		old     lambada.LoggingConfig
		set     lambada.LoggingSetting
		want    lambada.LoggingConfig
		wantErr string
	}{
		{"JSON takes INFO levels", lambada.LoggingConfig{}, lambada.LoggingSetting{LogFormat: ptr("JSON")},
			lambada.LoggingConfig{LogFormat: "JSON", ApplicationLogLevel: "INFO", SystemLogLevel: "INFO"}, ""},
		{"a level of JSON", lambada.LoggingConfig{}, lambada.LoggingSetting{LogFormat: ptr("JSON"), SystemLogLevel: ptr("WARN")},
			lambada.LoggingConfig{LogFormat: "JSON", ApplicationLogLevel: "INFO", SystemLogLevel: "WARN"}, ""},
		{"levels kept", json, lambada.LoggingSetting{LogGroup: ptr("/g")},
			lambada.LoggingConfig{LogFormat: "JSON", ApplicationLogLevel: "WARN", SystemLogLevel: "INFO", LogGroup: "/g"}, ""},
		{"a level alone on JSON", json, lambada.LoggingSetting{ApplicationLogLevel: ptr("ERROR")},
			lambada.LoggingConfig{LogFormat: "JSON", ApplicationLogLevel: "ERROR", SystemLogLevel: "INFO"}, ""},
		{"Text drops levels", json, lambada.LoggingSetting{LogFormat: ptr("Text")}, lambada.LoggingConfig{LogFormat: "Text"}, ""},
		{"a level with Text", lambada.LoggingConfig{}, lambada.LoggingSetting{ApplicationLogLevel: ptr("WARN")}, lambada.LoggingConfig{},
			`LogLevel is not supported when LogFormat is set to "Text".`},
		{"a level switching to Text", json, lambada.LoggingSetting{LogFormat: ptr("Text"), SystemLogLevel: ptr("WARN")}, lambada.LoggingConfig{},
			`LogLevel is not supported`},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := c.set.Apply(c.old)
			if c.wantErr != "" {
				if lambada.ErrorCode(err) != lambada.EINVALID || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err %v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, c.want)
			}
		})
	}
}

func TestLoggingSetting_Validate(t *testing.T) {
	var v lambada.Validation
	(&lambada.LoggingSetting{LogFormat: ptr("XML"), ApplicationLogLevel: ptr("NOTICE"), SystemLogLevel: ptr("ERROR"), LogGroup: ptr("bad group")}).Validate(&v)
	err := v.Err()
	for _, want := range []string{
		"Value 'XML' at 'loggingConfig.logFormat' failed to satisfy constraint: Member must satisfy enum value set: [JSON, Text]",
		"Value 'NOTICE' at 'loggingConfig.applicationLogLevel' failed to satisfy constraint: Member must satisfy enum value set: [TRACE, DEBUG, INFO, WARN, ERROR, FATAL]",
		"Value 'ERROR' at 'loggingConfig.systemLogLevel' failed to satisfy constraint: Member must satisfy enum value set: [DEBUG, INFO, WARN]",
		`Value 'bad group' at 'loggingConfig.logGroup' failed to satisfy constraint: Member must satisfy regular expression pattern: [\.\-_/#A-Za-z0-9]+`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%v\nwant %s", err, want)
		}
	}
	v = lambada.Validation{}
	(&lambada.LoggingSetting{LogFormat: ptr("JSON"), LogGroup: ptr("/aws/lambda/x")}).Validate(&v)
	if err := v.Err(); err != nil {
		t.Errorf("a valid setting: %v", err)
	}
}

func TestLogSource_Levels(t *testing.T) {
	warn := &lambada.LogSource{JSON: true, AppLevel: lambada.LogLevelRank("WARN"), SystemLevel: lambada.LogLevelRank("WARN")}
	for line, want := range map[string]bool{
		`{"level":"ERROR","msg":"x"}`: true,
		`{"level":"warn","msg":"x"}`:  true,
		`{"level":"INFO","msg":"x"}`:  false,
		`{"level":"DEBUG"}`:           false,
		`{"msg":"no level"}`:          false, // INFO
		`{"level":"LOUD"}`:            false, // INFO
		"plain":                       false, // INFO
		`{not json`:                   false,
	} {
		if got := warn.Keeps([]byte(line)); got != want {
			t.Errorf("WARN keeps %q: %v", line, got)
		}
	}
	if !(&lambada.LogSource{}).Keeps([]byte(`{"level":"TRACE"}`)) {
		t.Error("no level keeps everything")
	}
	if warn.KeepsPlatform("INFO") || !warn.KeepsPlatform("WARN") {
		t.Error("SystemLogLevel WARN")
	}
	if !(&lambada.LogSource{}).KeepsPlatform("DEBUG") {
		t.Error("Text keeps every platform line")
	}
}

func TestRuntimeVersion(t *testing.T) {
	for runtime, want := range map[string]string{
		"python3.12":      "python:3.12.lambada-1",
		"nodejs22.x":      "nodejs:22.lambada-1",
		"provided.al2023": "provided:al2023.lambada-1",
		"provided.al2":    "provided:al2.lambada-1",
	} {
		if got := lambada.RuntimeVersion(runtime); got != want {
			t.Errorf("RuntimeVersion(%q) = %q, want %q", runtime, got, want)
		}
	}
}
