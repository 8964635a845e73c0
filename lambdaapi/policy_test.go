package lambdaapi_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
)

// AddPermission, GetPolicy and RemovePermission, with AWS's shapes and
// errors.
func TestPolicy(t *testing.T) {
	e := newFnEnv(t, nil)
	ctx := context.Background()
	e.MustCreate(t, "fn", func(in *lambda.CreateFunctionInput) { in.Publish = true })
	_, err := e.client.GetPolicy(ctx, &lambda.GetPolicyInput{FunctionName: aws.String("fn")})
	wantAPIError(t, err, "ResourceNotFoundException", "The resource you requested does not exist.")

	out, err := e.client.AddPermission(ctx, &lambda.AddPermissionInput{FunctionName: aws.String("fn"), StatementId: aws.String("s3"),
		Action: aws.String("lambda:InvokeFunction"), Principal: aws.String("s3.amazonaws.com"),
		SourceArn: aws.String("arn:aws:s3:::bucket"), SourceAccount: aws.String("123456789012")})
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(out.Statement); got != `{"Action":"lambda:InvokeFunction","Condition":{"ArnLike":{"AWS:SourceArn":"arn:aws:s3:::bucket"},"StringEquals":{"AWS:SourceAccount":"123456789012"}},"Effect":"Allow","Principal":{"Service":"s3.amazonaws.com"},"Resource":"`+arn("fn")+`","Sid":"s3"}` {
		t.Errorf("statement %s", got)
	}
	if _, err := e.client.AddPermission(ctx, &lambda.AddPermissionInput{FunctionName: aws.String("fn"), StatementId: aws.String("acct"),
		Action: aws.String("lambda:*"), Principal: aws.String("111111111111")}); err != nil {
		t.Fatal(err)
	}
	got, err := e.client.GetPolicy(ctx, &lambda.GetPolicyInput{FunctionName: aws.String("fn")})
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Version, Id string
		Statement   []struct {
			Sid       string
			Principal json.RawMessage
		}
	}
	if json.Unmarshal([]byte(aws.ToString(got.Policy)), &doc) != nil || doc.Version != "2012-10-17" || doc.Id != "default" || len(doc.Statement) != 2 ||
		string(doc.Statement[1].Principal) != `{"AWS":"arn:aws:iam::111111111111:root"}` || aws.ToString(got.RevisionId) == "" {
		t.Errorf("policy %s, revision %s", aws.ToString(got.Policy), aws.ToString(got.RevisionId))
	}
	cfg, _ := e.client.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("fn")})
	if aws.ToString(cfg.RevisionId) != aws.ToString(got.RevisionId) {
		t.Errorf("the function's revision %s, its policy's %s", aws.ToString(cfg.RevisionId), aws.ToString(got.RevisionId))
	}

	add := func(in *lambda.AddPermissionInput) error {
		in.FunctionName = aws.String("fn")
		if in.Action == nil {
			in.Action = aws.String("lambda:InvokeFunction")
		}
		_, err := e.client.AddPermission(ctx, in)
		return err
	}
	wantAPIError(t, add(&lambda.AddPermissionInput{StatementId: aws.String("s3"), Principal: aws.String("*")}), "ResourceConflictException",
		"The statement id (s3) provided already exists. Please provide a new statement id, or remove the existing statement.")
	wantAPIError(t, add(&lambda.AddPermissionInput{StatementId: aws.String("x"), Principal: aws.String("someone")}), "InvalidParameterValueException",
		"The provided principal was invalid. Please check the principal and try again.")
	wantAPIError(t, add(&lambda.AddPermissionInput{StatementId: aws.String("x"), Principal: aws.String("*"), Qualifier: aws.String("$LATEST")}), "InvalidParameterValueException",
		"We currently do not support adding policies for $LATEST.")
	wantAPIError(t, add(&lambda.AddPermissionInput{StatementId: aws.String("x"), Principal: aws.String("*"), RevisionId: aws.String("stale")}), "PreconditionFailedException",
		"The Revision Id provided does not match the latest Revision Id. Call the GetPolicy API to retrieve the latest Revision Id")
	wantAPIError(t, add(&lambda.AddPermissionInput{StatementId: aws.String("x"), Principal: aws.String("*"), Qualifier: aws.String("9")}), "ResourceNotFoundException",
		"Function not found: "+arn("fn")+":9")
	wantAPIError(t, add(&lambda.AddPermissionInput{StatementId: aws.String("bad sid"), Principal: aws.String("*")}), "ValidationException",
		"1 validation error detected: Value 'bad sid' at 'statementId' failed to satisfy constraint: Member must satisfy regular expression pattern: ([a-zA-Z0-9-_]+)")
	// A version has a policy of its own.
	if err := add(&lambda.AddPermissionInput{StatementId: aws.String("v1"), Principal: aws.String("*"), Qualifier: aws.String("1")}); err != nil {
		t.Fatal(err)
	}
	v1, err := e.client.GetPolicy(ctx, &lambda.GetPolicyInput{FunctionName: aws.String("fn"), Qualifier: aws.String("1")})
	doc.Statement = nil
	if err != nil || json.Unmarshal([]byte(aws.ToString(v1.Policy)), &doc) != nil || len(doc.Statement) != 1 || doc.Statement[0].Sid != "v1" || string(doc.Statement[0].Principal) != `"*"` {
		t.Errorf("version 1's policy: %v %s", err, aws.ToString(v1.Policy))
	}

	remove := func(sid, qualifier string) error {
		in := &lambda.RemovePermissionInput{FunctionName: aws.String("fn"), StatementId: aws.String(sid)}
		if qualifier != "" {
			in.Qualifier = aws.String(qualifier)
		}
		_, err := e.client.RemovePermission(ctx, in)
		return err
	}
	wantAPIError(t, remove("nothere", ""), "ResourceNotFoundException", "Statement nothere is not found in resource policy.")
	for _, sid := range []string{"s3", "acct"} {
		if err := remove(sid, ""); err != nil {
			t.Fatal(err)
		}
	}
	_, err = e.client.GetPolicy(ctx, &lambda.GetPolicyInput{FunctionName: aws.String("fn")})
	wantAPIError(t, err, "ResourceNotFoundException", "The resource you requested does not exist.")
	wantAPIError(t, remove("s3", ""), "ResourceNotFoundException", "No policy is associated with the given resource.")
	if err := remove("v1", "1"); err != nil {
		t.Errorf("remove from version 1: %v", err)
	}
}
