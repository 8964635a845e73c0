package lambada_test

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/lambada-dev/lambada"
)

func TestCheckPayload(t *testing.T) {
	for _, tc := range []struct {
		in, want, errPart string
	}{
		{in: "", want: "{}"},
		{in: "  \n", want: "{}"},
		{in: `{"a":1}`, want: `{"a":1}`},
		{in: `"just a string"`, want: `"just a string"`},
		{in: `null`, want: `null`},
		{in: `[1,2]`, want: `[1,2]`},
		{in: `'test'`, errPart: "Unexpected character (''' (code 39)): expected a valid value (JSON String, Number, Array, Object or token 'null', 'true' or 'false')\n at [Source: REDACTED (`StreamReadFeature.INCLUDE_SOURCE_IN_LOCATION` disabled); line: 1, column: 1]"},
		{in: "{}\x87", errPart: "Invalid UTF-8 start byte 0x87\n at [Source: REDACTED (`StreamReadFeature.INCLUDE_SOURCE_IN_LOCATION` disabled); line: 1, column: 3]"},
		{in: "\x99", errPart: "Invalid UTF-8 start byte 0x99"},
		{in: "\x01", errPart: "Unexpected character ((CTRL-CHAR, code 1))"},
		{in: `{"a":`, errPart: "Unexpected end-of-input"},
	} {
		got, err := lambada.CheckPayload([]byte(tc.in))
		if tc.errPart == "" {
			if err != nil || string(got) != tc.want {
				t.Errorf("%q: got %q, %v; want %q", tc.in, got, err, tc.want)
			}
			continue
		}
		msg := lambada.ErrorMessage(err)
		if lambada.ErrorCode(err) != lambada.ECONTENT || !strings.HasPrefix(msg, "Could not parse request body into json: Could not parse payload into json: ") || !strings.Contains(msg, tc.errPart) {
			t.Errorf("%q: got %v; want ECONTENT containing %q", tc.in, err, tc.errPart)
		}
	}
}

func TestDecodeClientContext(t *testing.T) {
	b64 := base64.StdEncoding.EncodeToString
	for _, tc := range []struct {
		in   string
		want string
		ok   bool
	}{
		{"", "", true},
		{b64([]byte(`{"custom":{"a":"b"}}`)), `{"custom":{"a":"b"}}`, true},
		{"not base64!", "", false},
		{b64([]byte(`not json`)), "", false},
		{b64([]byte(`[1,2]`)), "", false},
		{b64([]byte(`null`)), "", false},
		{b64([]byte(`{"k":"` + strings.Repeat("v", 2700) + `"}`)), "", false}, // over 3583 base64 bytes
	} {
		got, err := lambada.DecodeClientContext(tc.in)
		if tc.ok != (err == nil) || string(got) != tc.want {
			t.Errorf("%.40q: got %q, %v", tc.in, got, err)
		}
		if err != nil && (lambada.ErrorCode(err) != lambada.ECONTENT || lambada.ErrorMessage(err) != "Client context must be a valid Base64-encoded JSON object.") {
			t.Errorf("%.40q: error %v", tc.in, err)
		}
	}
}

func TestParseInvocationType(t *testing.T) {
	var v lambada.Validation
	it, lt := lambada.ParseInvocationType(&v, "", "")
	if it != lambada.RequestResponse || lt != lambada.LogNone || v.Err() != nil {
		t.Fatalf("defaults: %s %s %v", it, lt, v.Err())
	}
	lambada.ParseInvocationType(&v, "Sync", "All")
	want := "2 validation errors detected: Value 'Sync' at 'invocationType' failed to satisfy constraint: Member must satisfy enum value set: [Event, RequestResponse, DryRun]; Value 'All' at 'logType' failed to satisfy constraint: Member must satisfy enum value set: [None, Tail]"
	if err := v.Err(); lambada.ErrorCode(err) != lambada.EVALIDATION || lambada.ErrorMessage(err) != want {
		t.Fatalf("got %v", err)
	}
}

func TestReportLine(t *testing.T) {
	r := lambada.Report{RequestID: "id", Duration: 3010 * time.Microsecond, MemorySize: 128, MaxMemoryUsed: 36, InitDuration: 110100 * time.Microsecond}
	want := "REPORT RequestId: id\tDuration: 3.01 ms\tBilled Duration: 4 ms\tMemory Size: 128 MB\tMax Memory Used: 36 MB\tInit Duration: 110.10 ms\t\n"
	if got := r.Line(); got != want {
		t.Fatalf("got %q\nwant %q", got, want)
	}
	r = lambada.Report{RequestID: "id", Duration: time.Second, MemorySize: 128, MaxMemoryUsed: 20, Status: "timeout"}
	if got := r.Line(); !strings.HasSuffix(got, "Max Memory Used: 20 MB\tStatus: timeout\t\n") {
		t.Fatalf("got %q", got)
	}
	if got := lambada.TimeoutMessage(3); got != "Task timed out after 3.00 seconds" {
		t.Fatalf("got %q", got)
	}
	if got := lambada.Tail([]byte(strings.Repeat("a", 5000) + "end")); len(got) != 4096 || !strings.HasSuffix(string(got), "end") {
		t.Fatalf("tail %d bytes", len(got))
	}
}
