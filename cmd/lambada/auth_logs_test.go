package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// With --auth the Logs API is decided by identity-based policies too (the
// action logs:<Operation> on the group's ARN), each account has its own
// groups, and a request must be signed for logs.
func TestAuth_Logs(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "auth.json")
	keys := map[string]string{"AKIAALICE": "a", "AKIACAROL": "c"}
	authFileWith(t, path, keys, map[string]string{
		"AKIAALICE": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"logs:*","Resource":"*"}]}`,
		"AKIACAROL": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"logs:FilterLogEvents","Resource":"arn:aws:logs:us-east-1:000000000000:log-group:/open:*"}]}`,
	})
	m := MustOpenMain(t, "", func(m *Main) { m.Auth = path })
	alice := []string{"AWS_ACCESS_KEY_ID=AKIAALICE", "AWS_SECRET_ACCESS_KEY=a"}
	carol := []string{"AWS_ACCESS_KEY_ID=AKIACAROL", "AWS_SECRET_ACCESS_KEY=c"}
	for _, g := range []string{"/open", "/closed"} {
		if out, stderr, code := awsCLIWith(t, m, alice, "logs", "create-log-group", "--log-group-name", g); code != 0 {
			t.Fatalf("alice creates %s: %s %s", g, out, stderr)
		}
	}
	denied := func(op, group string) string {
		return "An error occurred (AccessDeniedException) when calling the " + op + " operation: User: arn:aws:iam::000000000000:user/akiacarol is not authorized to perform: logs:" +
			op + " on resource: arn:aws:logs:us-east-1:000000000000:log-group:" + group + " because no identity-based policy allows the logs:" + op + " action"
	}
	for _, tc := range []struct {
		env  []string
		args []string
		want string // "": allowed; else the CLI's error
	}{
		{carol, []string{"logs", "filter-log-events", "--log-group-name", "/open"}, ""},
		{carol, []string{"logs", "filter-log-events", "--log-group-name", "/closed"}, denied("FilterLogEvents", "/closed:*")},
		{carol, []string{"logs", "delete-log-group", "--log-group-name", "/open"}, denied("DeleteLogGroup", "/open:*")},
		{carol, []string{"logs", "describe-log-groups"}, denied("DescribeLogGroups", "*")},
		{alice, []string{"logs", "describe-log-groups"}, ""},
		{[]string{"AWS_ACCESS_KEY_ID=AKIAALICE", "AWS_SECRET_ACCESS_KEY=guess"}, []string{"logs", "describe-log-groups"},
			"An error occurred (InvalidSignatureException) when calling the DescribeLogGroups operation: The request signature we calculated does not match"},
		{alice, []string{"logs", "describe-log-groups", "--no-sign-request"}, "(MissingAuthenticationTokenException) when calling the DescribeLogGroups operation"},
	} {
		out, stderr, code := awsCLIWith(t, m, tc.env, tc.args...)
		switch {
		case tc.want == "" && code != 0:
			t.Errorf("%s: %s %s", tc.args[:2], out, stderr)
		case tc.want != "" && (code == 0 || !strings.Contains(stderr, tc.want)):
			t.Errorf("%s %s: %d %s %s\nwant %s", tc.args[1], tc.args[len(tc.args)-1], code, out, stderr, tc.want)
		}
	}
	// Signed for another service.
	target := map[string]string{"X-Amz-Target": "Logs_20140328.DescribeLogGroups", "Content-Type": "application/x-amz-json-1.1"}
	if status, body := signedDo(t, m, "AKIAALICE", "a", "lambda", "POST", "/", target, `{}`); status != 400 ||
		!strings.Contains(body, "Credential should be scoped to correct service: 'logs'.") {
		t.Errorf("a Logs request signed for lambda: %d %s", status, body)
	}
}
