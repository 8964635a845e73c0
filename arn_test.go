package lambada_test

import (
	"strings"
	"testing"

	"github.com/lambada-dev/lambada"
)

func qual(s string) *string { return &s }

func TestParseFunctionRef(t *testing.T) {
	pattern := "Member must satisfy regular expression pattern: " + lambada.FunctionNamePattern
	for _, tc := range []struct {
		name      string
		qualifier *string
		want      lambada.FunctionRef
		errCode   string
		errMsg    string
	}{
		{name: "my-function", want: lambada.FunctionRef{Name: "my-function"}},
		{name: "my-function:v1", want: lambada.FunctionRef{Name: "my-function", Qualifier: "v1"}},
		{name: "my-function:$LATEST", want: lambada.FunctionRef{Name: "my-function", Qualifier: "$LATEST"}},
		{name: "123456789012:function:my-function", want: lambada.FunctionRef{Name: "my-function", Account: "123456789012"}},
		{name: "123456789012:function:my-function:7", want: lambada.FunctionRef{Name: "my-function", Account: "123456789012", Qualifier: "7"}},
		{name: "arn:aws:lambda:us-west-2:123456789012:function:my-function", want: lambada.FunctionRef{Name: "my-function", Region: "us-west-2", Account: "123456789012"}},
		{name: "arn:aws:lambda:us-west-2:123456789012:function:my-function:live", want: lambada.FunctionRef{Name: "my-function", Region: "us-west-2", Account: "123456789012", Qualifier: "live"}},
		{name: "arn:aws:lambda:us-east-1:123456789012:function", want: lambada.FunctionRef{Name: "function", Region: "us-east-1", Account: "123456789012"}},
		{name: "fn", qualifier: qual("3"), want: lambada.FunctionRef{Name: "fn", Qualifier: "3"}},
		{name: "fn:3", qualifier: qual("3"), want: lambada.FunctionRef{Name: "fn", Qualifier: "3"}},
		{name: strings.Repeat("a", 65), want: lambada.FunctionRef{Name: strings.Repeat("a", 65)}},
		{name: "fn:1", qualifier: qual("$LATEST"), errCode: lambada.EINVALID, errMsg: "The derived qualifier from the function name does not match the specified qualifier."},
		{name: "my-function!", errCode: lambada.EVALIDATION, errMsg: "1 validation error detected: Value 'my-function!' at 'functionName' failed to satisfy constraint: " + pattern},
		{name: "*", errCode: lambada.EVALIDATION, errMsg: "Value '*' at 'functionName'"},
		{name: "arn:aws:lambda:invalid-region:123456789012:function:f", errCode: lambada.EVALIDATION},
		{name: "arn:aws:lambda::123456789012:function:f", errCode: lambada.EVALIDATION},
		{name: "arn:aws:lambda:us-east-1::function:f", errCode: lambada.EVALIDATION},
		{name: "arn:aws:lambda:us-east-1:123456789012:function:f:1:2", errCode: lambada.EVALIDATION},
		{name: "function:f:$LATEST:extra", errCode: lambada.EVALIDATION},
		{name: "arn:aws:lambda:us-east-1:123456789012:function:f:$LATES", errCode: lambada.EVALIDATION},
		{name: "arn:aws:s3:::bucket", errCode: lambada.EVALIDATION},
		{name: "123400000000@function:myfn", errCode: lambada.EVALIDATION},
		{name: "fn", qualifier: qual("invalid!"), errCode: lambada.EVALIDATION,
			errMsg: "1 validation error detected: Value 'invalid!' at 'qualifier' failed to satisfy constraint: Member must satisfy regular expression pattern: " + lambada.QualifierPattern},
		{name: "fn", qualifier: qual(strings.Repeat("q", 129)), errCode: lambada.EVALIDATION, errMsg: "at 'qualifier' failed to satisfy constraint: Member must have length less than or equal to 128"},
		{name: "bad!", qualifier: qual(strings.Repeat("q", 129)), errCode: lambada.EVALIDATION, errMsg: "2 validation errors detected: Value 'bad!' at 'functionName'"},
		{name: strings.Repeat("a", 257), errCode: lambada.EVALIDATION, errMsg: "Member must have length less than or equal to 256"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var v lambada.Validation
			got, err := lambada.ParseFunctionRef(&v, tc.name, tc.qualifier)
			if verr := v.Err(); verr != nil {
				err = verr
			}
			if tc.errCode == "" {
				if err != nil || got != tc.want {
					t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
				}
				return
			}
			if lambada.ErrorCode(err) != tc.errCode || !strings.Contains(lambada.ErrorMessage(err), tc.errMsg) {
				t.Fatalf("got %v; want %s containing %q", err, tc.errCode, tc.errMsg)
			}
		})
	}
}

func TestFunctionRef_CheckRegion(t *testing.T) {
	ref := lambada.FunctionRef{Name: "f", Region: "ap-southeast-1"}
	err := ref.CheckRegion("us-east-1", "000000000000")
	if lambada.ErrorCode(err) != lambada.ENOTFOUND || lambada.ErrorMessage(err) != "Functions from 'ap-southeast-1' are not reachable in this region ('us-east-1')" {
		t.Fatalf("other region: %v", err)
	}
	ref = lambada.FunctionRef{Name: "f", Region: "us-east-1", Account: "111111111111"}
	if err := ref.CheckRegion("us-east-1", "000000000000"); lambada.ErrorCode(err) != lambada.EACCESSDENIED {
		t.Fatalf("other account: %v", err)
	}
	if err := (lambada.FunctionRef{Name: "f"}).CheckRegion("us-east-1", "000000000000"); err != nil {
		t.Fatalf("plain name: %v", err)
	}
}

// A queue ARN names a queue of an account: 12 digits, and a queue's name
// (no "<account>/" of the store's keys).
func TestParseQueueARN(t *testing.T) {
	if region, account, name, err := lambada.ParseQueueARN("arn:aws:sqs:us-east-1:111111111111:dlq"); err != nil || region != "us-east-1" || account != "111111111111" || name != "dlq" {
		t.Errorf("a queue ARN: %s %s %s %v", region, account, name, err)
	}
	for _, arn := range []string{
		"arn:aws:sqs:us-east-1::dlq",
		"arn:aws:sqs:us-east-1:1111:dlq",
		"arn:aws:sqs:us-east-1:000000000000:111111111111/dlq",
		"arn:aws:sqs:us-east-1:000000000000:",
		"arn:aws:lambda:us-east-1:000000000000:function:f",
	} {
		if _, _, _, err := lambada.ParseQueueARN(arn); err == nil {
			t.Errorf("%s was taken for a queue ARN", arn)
		}
	}
}
