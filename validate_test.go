package lambada_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/lambada-dev/lambada"
)

func ptr[T any](v T) *T { return &v }

// vars decodes a JSON object of environment variables, as a request gives them.
func vars(s string) *lambada.Variables {
	var v lambada.Variables
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		panic(err)
	}
	return &v
}

func TestParseFunctionName(t *testing.T) {
	long := "arn:aws:lambda:us-east-1:123456789012:function:" + strings.Repeat("a", 94)
	badRegion := "arn:aws:lambda:invalid-region:123456789012:function:" + strings.Repeat("a", 100)
	tests := []struct {
		name string
		in   string
		want lambada.FunctionRef
		err  string
	}{
		{"plain", "my-function", lambada.FunctionRef{Name: "my-function"}, ""},
		{"arn", "arn:aws:lambda:us-west-2:123456789012:function:f", lambada.FunctionRef{Name: "f", Region: "us-west-2", Account: "123456789012"}, ""},
		{"partial arn", "123456789012:function:f", lambada.FunctionRef{Name: "f", Account: "123456789012"}, ""},
		{"qualified", "f:$LATEST", lambada.FunctionRef{Name: "f", Qualifier: "$LATEST"}, ""},
		{"dots", "my.function", lambada.FunctionRef{}, "1 validation error detected: Value 'my.function' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern: " + lambada.NewFunctionNamePattern},
		{"bad chars", "invalid:function:name", lambada.FunctionRef{}, "1 validation error detected: Value 'invalid:function:name' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern: " + lambada.NewFunctionNamePattern},
		{"arn too long", long, lambada.FunctionRef{}, "1 validation error detected: Value '" + long + "' at 'functionName' failed to satisfy constraint: Member must have length less than or equal to 140"},
		{"empty", "", lambada.FunctionRef{}, "1 validation error detected: Value '' at 'functionName' failed to satisfy constraint: Member must have length greater than or equal to 1"},
		{"arn too long in an invalid region", badRegion, lambada.FunctionRef{}, "2 validation errors detected: Value '" + badRegion + "' at 'functionName' failed to satisfy constraint: Member must have length less than or equal to 140; Value '" + badRegion + "' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern: " + lambada.NewFunctionNamePattern},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var v lambada.Validation
			got := lambada.ParseFunctionName(&v, tc.in)
			if got != tc.want {
				t.Errorf("ref = %+v, want %+v", got, tc.want)
			}
			if msg := lambada.ErrorMessage(v.Err()); msg != tc.err {
				t.Errorf("error = %q, want %q", msg, tc.err)
			}
		})
	}
}

func TestCheckNewFunctionName(t *testing.T) {
	if err := lambada.CheckNewFunctionName(strings.Repeat("a", 64)); err != nil {
		t.Fatalf("64 characters: %v", err)
	}
	name := strings.Repeat("a", 65)
	err := lambada.CheckNewFunctionName(name)
	want := "1 validation error detected: Value '" + name + "' at 'functionName' failed to satisfy constraint: Member must have length less than or equal to 64"
	if lambada.ErrorCode(err) != lambada.EINVALID || lambada.ErrorMessage(err) != want {
		t.Fatalf("err = %v, want EINVALID %q", err, want)
	}
}

func TestFunctionSettings_Validate(t *testing.T) {
	const prefix = "1 validation error detected: "
	tests := []struct {
		name string
		in   lambada.FunctionSettings
		want string
	}{
		{"valid", lambada.FunctionSettings{Role: ptr("arn:aws:iam::123456789012:role/r"), Handler: ptr("bootstrap"), Timeout: ptr(900), MemorySize: ptr(10240), Architectures: []string{"arm64"}}, ""},
		{"role", lambada.FunctionSettings{Role: ptr("r1")}, prefix + "Value 'r1' at 'role' failed to satisfy constraint: Member must satisfy regular expression pattern: arn:(aws[a-zA-Z-]*)?:iam::\\d{12}:role/?[a-zA-Z_0-9+=,.@\\-_/]+"},
		{"handler space", lambada.FunctionSettings{Handler: ptr("a b")}, prefix + "Value 'a b' at 'handler' failed to satisfy constraint: Member must satisfy regular expression pattern: [^\\s]+"},
		{"handler long", lambada.FunctionSettings{Handler: ptr(strings.Repeat("h", 129))}, prefix + "Value '" + strings.Repeat("h", 129) + "' at 'handler' failed to satisfy constraint: Member must have length less than or equal to 128"},
		{"description", lambada.FunctionSettings{Description: ptr(strings.Repeat("d", 257))}, prefix + "Value '" + strings.Repeat("d", 257) + "' at 'description' failed to satisfy constraint: Member must have length less than or equal to 256"},
		{"timeout zero", lambada.FunctionSettings{Timeout: ptr(0)}, prefix + "Value '0' at 'timeout' failed to satisfy constraint: Member must have value greater than or equal to 1"},
		{"timeout 901", lambada.FunctionSettings{Timeout: ptr(901)}, prefix + "Value '901' at 'timeout' failed to satisfy constraint: Member must have value less than or equal to 900"},
		{"memory 127", lambada.FunctionSettings{MemorySize: ptr(127)}, prefix + "Value '127' at 'memorySize' failed to satisfy constraint: Member must have value greater than or equal to 128"},
		{"memory over model", lambada.FunctionSettings{MemorySize: ptr(32769)}, prefix + "Value '32769' at 'memorySize' failed to satisfy constraint: Member must have value less than or equal to 32768"},
		{"env key", lambada.FunctionSettings{Environment: vars(`{"a-b": "x"}`)}, prefix + "Value at 'environment.variables' failed to satisfy constraint: Map keys must satisfy constraint: [Member must satisfy regular expression pattern: [a-zA-Z]([a-zA-Z0-9_])+]"},
		{"env key one letter", lambada.FunctionSettings{Environment: vars(`{"A": "x"}`)}, prefix + "Value at 'environment.variables' failed to satisfy constraint: Map keys must satisfy constraint: [Member must satisfy regular expression pattern: [a-zA-Z]([a-zA-Z0-9_])+]"},
		{"ephemeral small", lambada.FunctionSettings{EphemeralStorage: &lambada.EphemeralStorageSetting{Size: ptr(511)}}, prefix + "Value '511' at 'ephemeralStorage.size' failed to satisfy constraint: Member must have value greater than or equal to 512"},
		{"ephemeral large", lambada.FunctionSettings{EphemeralStorage: &lambada.EphemeralStorageSetting{Size: ptr(10241)}}, prefix + "Value '10241' at 'ephemeralStorage.size' failed to satisfy constraint: Member must have value less than or equal to 10240"},
		{"ephemeral null", lambada.FunctionSettings{EphemeralStorage: &lambada.EphemeralStorageSetting{}}, prefix + "Value null at 'ephemeralStorage.size' failed to satisfy constraint: Member must not be null"},
		{"two architectures", lambada.FunctionSettings{Architectures: []string{"x86_64", "arm64"}}, prefix + "Value '[x86_64, arm64]' at 'architectures' failed to satisfy constraint: Member must have length less than or equal to 1"},
		{"no architecture", lambada.FunctionSettings{Architectures: []string{}}, prefix + "Value '[]' at 'architectures' failed to satisfy constraint: Member must have length greater than or equal to 1"},
		{"uppercase architecture", lambada.FunctionSettings{Architectures: []string{"X86_64"}}, prefix + "Value '[X86_64]' at 'architectures' failed to satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value set: [x86_64, arm64], Member must not be null]"},
		{"two errors", lambada.FunctionSettings{Timeout: ptr(0), MemorySize: ptr(64)}, "2 validation errors detected: Value '0' at 'timeout' failed to satisfy constraint: Member must have value greater than or equal to 1; Value '64' at 'memorySize' failed to satisfy constraint: Member must have value greater than or equal to 128"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var v lambada.Validation
			tc.in.Validate(&v)
			err := v.Err()
			if msg := lambada.ErrorMessage(err); msg != tc.want {
				t.Fatalf("error = %q\nwant    %q", msg, tc.want)
			}
			if err != nil && lambada.ErrorCode(err) != lambada.EVALIDATION {
				t.Fatalf("code = %s, want %s", lambada.ErrorCode(err), lambada.EVALIDATION)
			}
		})
	}
}

func TestFunctionSettings_Check(t *testing.T) {
	big := strings.Repeat("x", 4096-len(`{"BIG":""}`)+1)
	tests := []struct {
		name     string
		in       lambada.FunctionSettings
		code     string
		contains string
	}{
		{"offered al2023", lambada.FunctionSettings{Runtime: ptr("provided.al2023")}, "", ""},
		{"offered al2", lambada.FunctionSettings{Runtime: ptr("provided.al2")}, "", ""},
		{"unknown runtime", lambada.FunctionSettings{Runtime: ptr("non-existent-runtime")}, lambada.EINVALID, "Value non-existent-runtime at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: [nodejs20.x, python3.14, provided.al2023, "},
		{"uppercase runtime", lambada.FunctionSettings{Runtime: ptr("PYTHON3.9")}, lambada.EINVALID, "Value PYTHON3.9 at 'runtime' failed to satisfy constraint: "},
		{"go1.x", lambada.FunctionSettings{Runtime: ptr("go1.x")}, lambada.EINVALID, "The runtime parameter of go1.x is no longer supported for creating or updating AWS Lambda functions. We recommend you use a supported runtime while creating or updating functions."},
		{"provided", lambada.FunctionSettings{Runtime: ptr("provided")}, lambada.EINVALID, "The runtime parameter of provided is no longer supported for creating or updating AWS Lambda functions."},
		{"not offered", lambada.FunctionSettings{Runtime: ptr("java21")}, lambada.EINVALID, "The runtime java21 is not available on Lambada. Supported runtimes: provided.al2023, provided.al2."},
		{"no interpreter", lambada.FunctionSettings{Runtime: ptr("nodejs20.x")}, lambada.EINVALID, "The runtime nodejs20.x is not available on Lambada: no interpreter for it was found on this host; give one with lambada serve --runtime-path nodejs20.x=/path/to/nodejs20.x. Supported runtimes: provided.al2023, provided.al2."},
		{"no interpreter", lambada.FunctionSettings{Runtime: ptr("python3.12")}, lambada.EINVALID, "The runtime python3.12 is not available on Lambada: no interpreter for it was found on this host; give one with lambada serve --runtime-path python3.12=/path/to/python3.12. Supported runtimes: provided.al2023, provided.al2."},
		{"memory 10241", lambada.FunctionSettings{MemorySize: ptr(10241)}, lambada.EVALIDATION, "'MemorySize' value failed to satisfy constraint: Member must have value less than or equal to 10240"},
		{"reserved", lambada.FunctionSettings{Environment: vars(`{"AWS_REGION": "x", "OK_KEY": "y", "AWS_ACCESS_KEY_ID": "z"}`)}, lambada.EINVALID, "Lambda was unable to configure your environment variables because the environment variables you have provided contains reserved keys that are currently not supported for modification. Reserved keys used in this request: AWS_ACCESS_KEY_ID, AWS_REGION"},
		{"env at limit", lambada.FunctionSettings{Environment: ptr(lambada.VariablesOf(map[string]string{"BIG": big[1:]}))}, "", ""},
		{"env over limit", lambada.FunctionSettings{Environment: ptr(lambada.VariablesOf(map[string]string{"BIG": big}))}, lambada.EINVALID, `Lambda was unable to configure your environment variables because the environment variables you have provided exceeded the 4KB limit. String measured: {"BIG":"` + big + `"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.in.Check()
			if code := lambada.ErrorCode(err); code != tc.code {
				t.Fatalf("code = %q (%v), want %q", code, err, tc.code)
			}
			if msg := lambada.ErrorMessage(err); !strings.HasPrefix(msg, tc.contains) {
				t.Fatalf("message = %q\nwant prefix %q", msg, tc.contains)
			}
		})
	}
}

// TestKnownRuntime checks that every runtime of the API model's enum
// (botocore 1.43) is known, so that none gets the "not in the enum" error.
func TestKnownRuntime(t *testing.T) {
	model := strings.Fields(`nodejs nodejs4.3 nodejs6.10 nodejs8.10 nodejs10.x nodejs12.x nodejs14.x
		nodejs16.x java8 java8.al2 java11 python2.7 python3.6 python3.7 python3.8 python3.9
		dotnetcore1.0 dotnetcore2.0 dotnetcore2.1 dotnetcore3.1 dotnet6 dotnet8 nodejs4.3-edge
		go1.x ruby2.5 ruby2.7 provided provided.al2 nodejs18.x python3.10 java17 ruby3.2 ruby3.3
		ruby3.4 python3.11 nodejs20.x provided.al2023 python3.12 java21 python3.13 nodejs22.x
		nodejs24.x python3.14 java25 dotnet10 ruby4.0`)
	for _, r := range model {
		if !lambada.KnownRuntime(r) {
			t.Errorf("KnownRuntime(%q) = false", r)
		}
	}
	for _, r := range []string{"", "PYTHON3.9", "python", "go1.y"} {
		if lambada.KnownRuntime(r) {
			t.Errorf("KnownRuntime(%q) = true", r)
		}
	}
}

func TestFunctionSettings_Apply(t *testing.T) {
	c := lambada.NewFunctionConfig()
	c.Handler, c.Environment = "old", map[string]string{"A1": "x"}
	s := lambada.FunctionSettings{Timeout: ptr(30), Description: ptr("d"), Architectures: []string{"arm64"}}
	s.Apply(&c)
	if c.Timeout != 30 || c.Description != "d" || c.Handler != "old" || c.MemorySize != 128 || c.Architectures[0] != "arm64" || c.Environment["A1"] != "x" {
		t.Fatalf("after a partial Apply: %+v", c)
	}
	(&lambada.FunctionSettings{Environment: vars(`{}`)}).Apply(&c)
	if c.Environment != nil || !c.HasEnvironment {
		t.Fatalf("empty Variables left %v (HasEnvironment %v)", c.Environment, c.HasEnvironment)
	}
	if c.EphemeralStorage != 512 || c.PackageType != "Zip" || c.Version != "$LATEST" {
		t.Fatalf("defaults: %+v", c)
	}
}
