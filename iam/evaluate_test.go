package iam

import (
	"strings"
	"testing"
)

const (
	alice   = "arn:aws:iam::111111111111:user/alice"
	bob     = "arn:aws:iam::222222222222:user/bob"
	fn      = "arn:aws:lambda:us-east-1:111111111111:function:f"
	fnV1    = "arn:aws:lambda:us-east-1:111111111111:function:f:1"
	invoke  = "lambda:InvokeFunction"
	deleteF = "lambda:DeleteFunction"
)

func mustParse(t *testing.T, doc string) Policy {
	t.Helper()
	p, err := Parse([]byte(doc))
	if err != nil {
		t.Fatalf("%s: %v", doc, err)
	}
	return p
}

func TestEvaluate(t *testing.T) {
	aliceReq := func(action, resource string) Request {
		return Request{Principal: alice, PrincipalAccount: "111111111111", Action: action, Resource: resource, ResourceAccount: "111111111111"}
	}
	bobReq := func(action, resource string) Request {
		return Request{Principal: bob, PrincipalAccount: "222222222222", Action: action, Resource: resource, ResourceAccount: "111111111111"}
	}
	s3 := func(source string) Request {
		r := Request{Service: "s3.amazonaws.com", Action: invoke, Resource: fn, ResourceAccount: "111111111111", Context: map[string]string{}}
		if source != "" {
			r.Context["aws:SourceArn"] = source
		}
		return r
	}
	allowAll := `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"lambda:*","Resource":"*"}}`
	const (
		noIdentity = "because no identity-based policy allows the lambda:InvokeFunction action"
		noResource = "because no resource-based policy allows the lambda:InvokeFunction action"
		idDeny     = "with an explicit deny in an identity-based policy"
		resDeny    = "with an explicit deny in a resource-based policy"
	)
	for _, tc := range []struct {
		name               string
		req                Request
		identity, resource []string
		want               Decision
		reason             string
	}{
		{"allow everything", aliceReq(invoke, fn), []string{allowAll}, nil, Allowed, ""},
		{"no policy", aliceReq(invoke, fn), nil, nil, ImplicitDeny, noIdentity},
		{"another action only", aliceReq(invoke, fn), []string{`{"Statement":[{"Effect":"Allow","Action":"lambda:Get*","Resource":"*"}]}`}, nil, ImplicitDeny, noIdentity},
		{"action wildcard", aliceReq(invoke, fn), []string{`{"Statement":[{"Effect":"Allow","Action":"lambda:Invoke*","Resource":"*"}]}`}, nil, Allowed, ""},
		{"action ? and case", aliceReq(invoke, fn), []string{`{"Statement":[{"Effect":"Allow","Action":"Lambda:invokefunctio?","Resource":"*"}]}`}, nil, Allowed, ""},
		// AWS: an explicit deny in any policy overrides any allow.
		{"deny wins", aliceReq(invoke, fn), []string{allowAll, `{"Statement":[{"Effect":"Deny","Action":"lambda:InvokeFunction","Resource":"` + fn + `"}]}`}, nil, ExplicitDeny, idDeny},
		{"deny elsewhere", aliceReq(invoke, fn), []string{allowAll, `{"Statement":[{"Effect":"Deny","Action":"lambda:InvokeFunction","Resource":"arn:aws:lambda:us-east-1:111111111111:function:other"}]}`}, nil, Allowed, ""},
		{"NotAction allows the rest", aliceReq(invoke, fn), []string{`{"Statement":[{"Effect":"Allow","NotAction":"lambda:Delete*","Resource":"*"}]}`}, nil, Allowed, ""},
		{"NotAction leaves it out", aliceReq(deleteF, fn), []string{`{"Statement":[{"Effect":"Allow","NotAction":"lambda:Delete*","Resource":"*"}]}`}, nil, ImplicitDeny, "because no identity-based policy allows the lambda:DeleteFunction action"},
		{"NotResource deny", aliceReq(invoke, fn), []string{allowAll, `{"Statement":[{"Effect":"Deny","Action":"*","NotResource":"arn:aws:lambda:*:*:function:public-*"}]}`}, nil, ExplicitDeny, idDeny},
		// Lambda: a function's unqualified ARN names the unqualified
		// function only; its versions and aliases need ":*".
		{"unqualified ARN, qualified call", aliceReq(invoke, fnV1), []string{`{"Statement":[{"Effect":"Allow","Action":"lambda:InvokeFunction","Resource":"` + fn + `"}]}`}, nil, ImplicitDeny, noIdentity},
		{"qualifiers wildcard", aliceReq(invoke, fnV1), []string{`{"Statement":[{"Effect":"Allow","Action":"lambda:InvokeFunction","Resource":"` + fn + `:*"}]}`}, nil, Allowed, ""},
		{"resource case matters", aliceReq(invoke, fn), []string{`{"Statement":[{"Effect":"Allow","Action":"lambda:InvokeFunction","Resource":"` + strings.ToUpper(fn) + `"}]}`}, nil, ImplicitDeny, noIdentity},
		// AWS: within one account, an allow in either kind of policy is enough.
		{"same account, resource policy alone", aliceReq(invoke, fn), nil, []string{`{"Statement":[{"Effect":"Allow","Principal":{"AWS":"111111111111"},"Action":"lambda:InvokeFunction","Resource":"` + fn + `"}]}`}, Allowed, ""},
		{"resource policy for someone else", aliceReq(invoke, fn), nil, []string{`{"Statement":[{"Effect":"Allow","Principal":{"AWS":"` + bob + `"},"Action":"lambda:InvokeFunction","Resource":"` + fn + `"}]}`}, ImplicitDeny, noIdentity},
		{"resource deny", aliceReq(invoke, fn), []string{allowAll}, []string{`{"Statement":[{"Effect":"Deny","Principal":"*","Action":"lambda:*","Resource":"` + fn + `"}]}`}, ExplicitDeny, resDeny},
		// AWS: across accounts, both the identity policy and the resource
		// policy must allow.
		{"cross account, identity only", bobReq(invoke, fn), []string{allowAll}, nil, ImplicitDeny, noResource},
		{"cross account, resource only", bobReq(invoke, fn), nil, []string{`{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::222222222222:root"},"Action":"lambda:InvokeFunction","Resource":"` + fn + `"}]}`}, ImplicitDeny, noIdentity},
		{"cross account, both", bobReq(invoke, fn), []string{allowAll}, []string{`{"Statement":[{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::333333333333:root","` + bob + `"]},"Action":"lambda:InvokeFunction","Resource":"` + fn + `"}]}`}, Allowed, ""},
		// A service principal, as AddPermission grants it, with a source.
		{"service with its source", s3("arn:aws:s3:::bucket"), nil, []string{`{"Statement":[{"Effect":"Allow","Principal":{"Service":"s3.amazonaws.com"},"Action":"lambda:InvokeFunction","Resource":"` + fn + `","Condition":{"ArnLike":{"AWS:SourceArn":"arn:aws:s3:::bucket"}}}]}`}, Allowed, ""},
		{"service with another source", s3("arn:aws:s3:::other"), nil, []string{`{"Statement":[{"Effect":"Allow","Principal":{"Service":"s3.amazonaws.com"},"Action":"lambda:InvokeFunction","Resource":"` + fn + `","Condition":{"ArnLike":{"AWS:SourceArn":"arn:aws:s3:::bucket"}}}]}`}, ImplicitDeny, noIdentity},
		{"service without a source", s3(""), nil, []string{`{"Statement":[{"Effect":"Allow","Principal":{"Service":"s3.amazonaws.com"},"Action":"lambda:InvokeFunction","Resource":"` + fn + `","Condition":{"ArnLike":{"AWS:SourceArn":"arn:aws:s3:::bucket"}}}]}`}, ImplicitDeny, noIdentity},
		{"another service", Request{Service: "sns.amazonaws.com", Action: invoke, Resource: fn, ResourceAccount: "111111111111"}, nil, []string{`{"Statement":[{"Effect":"Allow","Principal":{"Service":"s3.amazonaws.com"},"Action":"lambda:InvokeFunction","Resource":"` + fn + `"}]}`}, ImplicitDeny, noIdentity},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var id, res []Policy
			for _, d := range tc.identity {
				id = append(id, mustParse(t, d))
			}
			for _, d := range tc.resource {
				res = append(res, mustParse(t, d))
			}
			got := Evaluate(tc.req, id, res)
			if got.Decision != tc.want || got.Reason != tc.reason {
				t.Errorf("got %v %q, want %v %q", got.Decision, got.Reason, tc.want, tc.reason)
			}
		})
	}
}

// Condition operators, their negations and IfExists, against a context
// with and without the key.
func TestConditions(t *testing.T) {
	ctx := map[string]string{"aws:SourceAccount": "111111111111", "aws:SourceArn": "arn:aws:sqs:us-east-1:111111111111:queue", "aws:SecureTransport": "true"}
	for _, tc := range []struct {
		cond string
		want bool
	}{
		{`{"StringEquals":{"aws:SourceAccount":"111111111111"}}`, true},
		{`{"StringEquals":{"aws:SourceAccount":["222222222222","111111111111"]}}`, true}, // any value
		{`{"StringEquals":{"aws:SourceAccount":"222222222222"}}`, false},
		{`{"StringEquals":{"aws:sourceaccount":"111111111111"}}`, true}, // key names ignore case
		{`{"StringEquals":{"aws:Missing":"x"}}`, false},
		{`{"StringNotEquals":{"aws:SourceAccount":"222222222222"}}`, true},
		{`{"StringNotEquals":{"aws:SourceAccount":["222222222222","111111111111"]}}`, false},
		{`{"StringNotEquals":{"aws:Missing":"x"}}`, true},
		{`{"StringEqualsIfExists":{"aws:Missing":"x"}}`, true},
		{`{"StringEqualsIfExists":{"aws:SourceAccount":"222222222222"}}`, false},
		{`{"StringEqualsIgnoreCase":{"aws:SourceArn":"ARN:AWS:SQS:US-EAST-1:111111111111:QUEUE"}}`, true},
		{`{"StringLike":{"aws:SourceArn":"arn:aws:sqs:*:111111111111:*"}}`, true},
		{`{"StringNotLike":{"aws:SourceArn":"arn:aws:sqs:*"}}`, false},
		{`{"ArnLike":{"aws:SourceArn":"arn:aws:sqs:*:111111111111:q*"}}`, true},
		{`{"ArnLike":{"aws:SourceArn":"arn:aws:*:111111111111:queue"}}`, false}, // a wildcard does not span parts
		{`{"ArnEquals":{"aws:SourceArn":"arn:aws:sqs:us-east-1:111111111111:queue"}}`, true},
		{`{"ArnNotLike":{"aws:SourceArn":"arn:aws:sns:*:*:*"}}`, true},
		{`{"ArnNotLikeIfExists":{"aws:Missing":"arn:aws:sns:*:*:*"}}`, true},
		{`{"Bool":{"aws:SecureTransport":"true"}}`, true},
		{`{"StringEquals":{"aws:SourceAccount":"111111111111"},"ArnLike":{"aws:SourceArn":"arn:aws:sns:*:*:*"}}`, false}, // every operator
		{`{"NumericLessThan":{"aws:SourceAccount":"1"}}`, false},                                                         // unknown: never grants
	} {
		p := mustParse(t, `{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":`+tc.cond+`}}`)
		if got := conditionsHold(p.Statement[0].Condition, ctx); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.cond, got, tc.want)
		}
	}
}

func TestGlob(t *testing.T) {
	for _, tc := range []struct {
		pattern, s string
		want       bool
	}{
		{"*", "", true}, {"*", "anything", true}, {"a*c", "abbbc", true}, {"a*c", "abbb", false},
		{"a?c", "abc", true}, {"a?c", "ac", false}, {"*:function:f", "arn:aws:lambda:r:1:function:f", true},
		{"a*b*c", "axxbyyc", true}, {"a*b*c", "axxcyyb", false}, {"", "", true}, {"", "x", false},
	} {
		if got := Glob(tc.pattern, tc.s); got != tc.want {
			t.Errorf("Glob(%q, %q) = %v", tc.pattern, tc.s, got)
		}
	}
}

func TestParse(t *testing.T) {
	p := mustParse(t, `{"Version":"2012-10-17","Statement":{"Sid":"s","Effect":"Allow","Principal":"*","Action":"lambda:InvokeFunction","Resource":["a","b"]}}`)
	if len(p.Statement) != 1 || !p.Statement[0].Principal.Any || len(p.Statement[0].Action) != 1 || len(p.Statement[0].Resource) != 2 {
		t.Errorf("parsed %+v", p)
	}
	for _, bad := range []string{
		`{"Statement":[{"Effect":"Maybe","Action":"*","Resource":"*"}]}`,
		`{"Statement":[{"Effect":"Allow","Resource":"*"}]}`,
		`{"Statement":[{"Effect":"Allow","Action":"*","NotAction":"x","Resource":"*"}]}`,
		`{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*","NotResource":"x"}]}`,
		`{"Statement":[{"Effect":"Allow","Action":3}]}`,
		`{"Statement":[{"Effect":"Allow","Principal":"someone","Action":"*"}]}`,
	} {
		if _, err := Parse([]byte(bad)); err == nil {
			t.Errorf("%s was accepted", bad)
		}
	}
}

// AWS's AccessDeniedException text.
func TestResult_Message(t *testing.T) {
	req := Request{Principal: alice, PrincipalAccount: "111111111111", Action: invoke, Resource: fn, ResourceAccount: "111111111111"}
	got := Evaluate(req, nil, nil).Message(req)
	want := "User: arn:aws:iam::111111111111:user/alice is not authorized to perform: lambda:InvokeFunction on resource: arn:aws:lambda:us-east-1:111111111111:function:f because no identity-based policy allows the lambda:InvokeFunction action"
	if got != want {
		t.Errorf("message\n%s\nwant\n%s", got, want)
	}
}
