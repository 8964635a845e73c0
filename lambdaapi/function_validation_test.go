package lambdaapi_test

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/lambada-dev/lambada"
)

func TestCreateFunction_Errors(t *testing.T) {
	const v1 = "1 validation error detected: "
	name65 := strings.Repeat("a", 65)
	longARN := "arn:aws:lambda:us-east-1:123456789012:function:" + strings.Repeat("a", 94)
	bigEnv := strings.Repeat("x", 4090)
	tests := []struct {
		name string
		mod  func(*lambda.CreateFunctionInput)
		code string
		msg  string
	}{
		{"role", func(in *lambda.CreateFunctionInput) { in.Role = aws.String("r1") },
			"ValidationException", v1 + "Value 'r1' at 'role' failed to satisfy constraint: Member must satisfy regular expression pattern: arn:(aws[a-zA-Z-]*)?:iam::\\d{12}:role/?[a-zA-Z_0-9+=,.@\\-_/]+"},
		{"name 65", func(in *lambda.CreateFunctionInput) { in.FunctionName = aws.String(name65) },
			"InvalidParameterValueException", v1 + "Value '" + name65 + "' at 'functionName' failed to satisfy constraint: Member must have length less than or equal to 64"},
		{"name pattern", func(in *lambda.CreateFunctionInput) { in.FunctionName = aws.String("invalid:function:name") },
			"ValidationException", v1 + "Value 'invalid:function:name' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern: " + lambada.NewFunctionNamePattern},
		{"name dots", func(in *lambda.CreateFunctionInput) { in.FunctionName = aws.String("my.fn") },
			"ValidationException", v1 + "Value 'my.fn' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern: " + lambada.NewFunctionNamePattern},
		{"name qualified", func(in *lambda.CreateFunctionInput) { in.FunctionName = aws.String("fn:1") },
			"ValidationException", v1 + "Value 'fn:1' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern: " + lambada.NewFunctionNamePattern},
		{"arn 141", func(in *lambda.CreateFunctionInput) { in.FunctionName = aws.String(longARN) },
			"ValidationException", v1 + "Value '" + longARN + "' at 'functionName' failed to satisfy constraint: Member must have length less than or equal to 140"},
		{"arn region", func(in *lambda.CreateFunctionInput) {
			in.FunctionName = aws.String("arn:aws:lambda:ap-southeast-1:123456789012:function:f")
		}, "ResourceNotFoundException", "Functions from 'ap-southeast-1' are not reachable in this region ('us-east-1')"},
		{"unknown runtime", func(in *lambda.CreateFunctionInput) { in.Runtime = "non-existent-runtime" },
			"InvalidParameterValueException", "Value non-existent-runtime at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: [nodejs20.x, python3.14, provided.al2023, python3.12, python3.13, nodejs24.x, nodejs22.x, java25, python3.10, python3.11, java21, ruby3.3, ruby3.4, ruby3.2, python3.8, python3.9, java17, nodejs16.x, dotnet10, dotnet8, java11, dotnet6, nodejs18.x, provided.al2, java8.al2] or be a valid ARN"},
		{"go1.x", func(in *lambda.CreateFunctionInput) { in.Runtime = types.RuntimeGo1x },
			"InvalidParameterValueException", "The runtime parameter of go1.x is no longer supported for creating or updating AWS Lambda functions. We recommend you use a supported runtime while creating or updating functions."},
		{"provided", func(in *lambda.CreateFunctionInput) { in.Runtime = types.RuntimeProvided },
			"InvalidParameterValueException", "The runtime parameter of provided is no longer supported for creating or updating AWS Lambda functions. We recommend you use a supported runtime while creating or updating functions."},
		{"not offered", func(in *lambda.CreateFunctionInput) { in.Runtime = types.RuntimeJava21 },
			"InvalidParameterValueException", "The runtime java21 is not available on Lambada. Supported runtimes: provided.al2023, provided.al2."},
		{"no runtime", func(in *lambda.CreateFunctionInput) { in.Runtime = "" },
			"InvalidParameterValueException", "Runtime and Handler are mandatory parameters for functions created with deployment packages."},
		{"no handler", func(in *lambda.CreateFunctionInput) { in.Handler = nil },
			"InvalidParameterValueException", "Runtime and Handler are mandatory parameters for functions created with deployment packages."},
		{"timeout", func(in *lambda.CreateFunctionInput) { in.Timeout = aws.Int32(901) },
			"ValidationException", v1 + "Value '901' at 'timeout' failed to satisfy constraint: Member must have value less than or equal to 900"},
		{"timeout zero", func(in *lambda.CreateFunctionInput) { in.Timeout = aws.Int32(0) },
			"ValidationException", v1 + "Value '0' at 'timeout' failed to satisfy constraint: Member must have value greater than or equal to 1"},
		{"memory small", func(in *lambda.CreateFunctionInput) { in.MemorySize = aws.Int32(127) },
			"ValidationException", v1 + "Value '127' at 'memorySize' failed to satisfy constraint: Member must have value greater than or equal to 128"},
		{"memory large", func(in *lambda.CreateFunctionInput) { in.MemorySize = aws.Int32(10241) },
			"ValidationException", "'MemorySize' value failed to satisfy constraint: Member must have value less than or equal to 10240"},
		{"env key", func(in *lambda.CreateFunctionInput) {
			in.Environment = &types.Environment{Variables: map[string]string{"my-key": "v"}}
		}, "ValidationException", v1 + "Value at 'environment.variables' failed to satisfy constraint: Map keys must satisfy constraint: [Member must satisfy regular expression pattern: [a-zA-Z]([a-zA-Z0-9_])+]"},
		{"env reserved", func(in *lambda.CreateFunctionInput) {
			in.Environment = &types.Environment{Variables: map[string]string{"AWS_REGION": "x", "AWS_LAMBDA_RUNTIME_API": "y"}}
		}, "InvalidParameterValueException", "Lambda was unable to configure your environment variables because the environment variables you have provided contains reserved keys that are currently not supported for modification. Reserved keys used in this request: AWS_LAMBDA_RUNTIME_API, AWS_REGION"},
		{"env size", func(in *lambda.CreateFunctionInput) {
			in.Environment = &types.Environment{Variables: map[string]string{"LARGE_VAR": bigEnv}}
		}, "InvalidParameterValueException", `Lambda was unable to configure your environment variables because the environment variables you have provided exceeded the 4KB limit. String measured: {"LARGE_VAR":"` + bigEnv + `"}`},
		{"architectures", func(in *lambda.CreateFunctionInput) { in.Architectures = []types.Architecture{"x86_64", "arm64"} },
			"ValidationException", v1 + "Value '[x86_64, arm64]' at 'architectures' failed to satisfy constraint: Member must have length less than or equal to 1"},
		{"architecture case", func(in *lambda.CreateFunctionInput) { in.Architectures = []types.Architecture{"X86_64"} },
			"ValidationException", v1 + "Value '[X86_64]' at 'architectures' failed to satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value set: [x86_64, arm64], Member must not be null]"},
		{"ephemeral storage", func(in *lambda.CreateFunctionInput) {
			in.EphemeralStorage = &types.EphemeralStorage{Size: aws.Int32(100)}
		},
			"ValidationException", v1 + "Value '100' at 'ephemeralStorage.size' failed to satisfy constraint: Member must have value greater than or equal to 512"},
		{"description", func(in *lambda.CreateFunctionInput) { in.Description = aws.String(strings.Repeat("d", 257)) },
			"ValidationException", v1 + "Value '" + strings.Repeat("d", 257) + "' at 'description' failed to satisfy constraint: Member must have length less than or equal to 256"},
		{"two errors", func(in *lambda.CreateFunctionInput) { in.Timeout, in.Role = aws.Int32(0), aws.String("r1") },
			"ValidationException", "2 validation errors detected: Value 'r1' at 'role' failed to satisfy constraint: …"},
		{"s3", func(in *lambda.CreateFunctionInput) {
			in.Code = &types.FunctionCode{S3Bucket: aws.String("bucket"), S3Key: aws.String("key.zip")}
		}, "InvalidParameterValueException", "Only ZipFile code is supported: Lambada does not fetch code from S3 (S3Bucket, S3Key) or container images (ImageUri)."},
		{"image", func(in *lambda.CreateFunctionInput) {
			in.PackageType, in.Runtime, in.Handler = types.PackageTypeImage, "", nil
			in.Code = &types.FunctionCode{ImageUri: aws.String("123456789012.dkr.ecr.us-east-1.amazonaws.com/f:1")}
		}, "InvalidParameterValueException", "PackageType Image is not supported: Lambada runs Zip packages only."},
		{"no code", func(in *lambda.CreateFunctionInput) { in.Code = &types.FunctionCode{} },
			"InvalidParameterValueException", "Please provide a source for function code."},
		{"bad zip", func(in *lambda.CreateFunctionInput) { in.Code = &types.FunctionCode{ZipFile: []byte("not a zip")} },
			"InvalidParameterValueException", "Could not unzip uploaded file. Please check your file, then try to upload again."},
	}
	e := newFnEnv(t, nil)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := createInput(t, "invalid")
			tc.mod(in)
			_, err := e.client.CreateFunction(context.Background(), in)
			wantAPIError(t, err, tc.code, tc.msg)
		})
	}
	if fns, _ := e.store.Functions(context.Background()); len(fns) != 0 {
		t.Fatalf("failed creates stored %d functions", len(fns))
	}
}

// TestCreateFunction_Wire checks what the SDK cannot send: missing members,
// bad JSON, and the 413 for an oversized request.
func TestCreateFunction_Wire(t *testing.T) {
	e := newFnEnv(t, nil)
	tests := []struct {
		name, body string
		status     int
		typ, msg   string
	}{
		{"nulls", `{}`, 400, "ValidationException", `"3 validation errors detected: Value null at 'functionName' failed to satisfy constraint: Member must not be null; Value null at 'role' failed to satisfy constraint: Member must not be null; Value null at 'code' failed to satisfy constraint: Member must not be null"`},
		{"bad json", `{"FunctionName":`, 400, "InvalidRequestContentException", `"Could not parse request body into json: `},
		{"wrong type", `{"Timeout":"3"}`, 400, "InvalidRequestContentException", `"Could not parse request body into json: the value of Timeout must be a JSON number"`},
		{"package type", `{"FunctionName":"f","Role":"` + fnRole + `","Code":{},"PackageType":"Jar"}`, 400, "ValidationException", `Value 'Jar' at 'packageType' failed to satisfy constraint: Member must satisfy enum value set: [Zip, Image]"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, typ, body := e.do(t, "POST", "/2015-03-31/functions", tc.body)
			if status != tc.status || typ != tc.typ || !strings.Contains(body, tc.msg) {
				t.Fatalf("got %d %s %s\nwant %d %s %s", status, typ, body, tc.status, tc.typ, tc.msg)
			}
		})
	}
}
