package sqsapi

import (
	"testing"

	"github.com/lambada-dev/lambada"
)

// TestMD5OfAttributes checks the digest against published vectors: AWS's
// samples as ydb-platform/ydb's ymq tests quote them, and those of the
// sqs-md5-validator and wcharczuk/sqslite tests.
func TestMD5OfAttributes(t *testing.T) {
	str := func(v string) lambada.MessageAttribute {
		return lambada.MessageAttribute{DataType: "String", StringValue: v}
	}
	for _, tc := range []struct {
		name  string
		attrs map[string]lambada.MessageAttribute
		want  string
	}{
		{"none", nil, ""},
		{"one string", map[string]lambada.MessageAttribute{"SellerName": str("Example Store")}, "cd28f3b68aeee4b2eac9c66f2f694b58"},
		{"two strings, sorted", map[string]lambada.MessageAttribute{
			"test_attribute_name_2": str("test_attribute_value_2"),
			"test_attribute_name_1": str("test_attribute_value_1"),
		}, "d53f3b558fe951154770f25cb63dbba9"},
		{"binary", map[string]lambada.MessageAttribute{
			"test_attribute_name": {DataType: "Binary", BinaryValue: []byte("test_attribute_value")},
		}, "23f6bd27ea87aab7dfeadcc9aebee495"},
		{"number and string", map[string]lambada.MessageAttribute{
			"ordinal":  {DataType: "Number", StringValue: "1"},
			"category": str("test"),
		}, "d21ae90c49061e927f57df5f5d72be1f"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := md5OfAttributes(tc.attrs); got != tc.want {
				t.Errorf("md5OfAttributes = %q, want %q", got, tc.want)
			}
		})
	}
	if got := md5OfBody("hello"); got != "5d41402abc4b2a76b9719d911017c592" {
		t.Errorf("md5OfBody(hello) = %s", got)
	}
}
