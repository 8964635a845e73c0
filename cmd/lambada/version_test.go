package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/lambada-dev/lambada/internal/poll"
	"github.com/lambada-dev/lambada/internal/testfn"
)

// mustZipWithTag is the test function with a file tag.txt holding tag.
func mustZipWithTag(t *testing.T, tag string) []byte {
	t.Helper()
	zip, err := testfn.ZipWith(map[string]string{"tag.txt": tag})
	if err != nil {
		t.Fatal(err)
	}
	return zip
}

// tagOf invokes name (with qualifier q) and returns the tag its code holds
// and the version that ran.
func tagOf(t *testing.T, c *lambda.Client, name, q string) (tag, version string) {
	t.Helper()
	in := &lambda.InvokeInput{FunctionName: aws.String(name), Payload: []byte(`{"action":"file","msg":"tag.txt"}`)}
	if q != "" {
		in.Qualifier = aws.String(q)
	}
	out, _ := sdkInvoke(t, c, in)
	if out.FunctionError != nil || json.Unmarshal(out.Payload, &tag) != nil {
		t.Fatalf("invoke %s:%s: %s", name, q, out.Payload)
	}
	return tag, aws.ToString(out.ExecutedVersion)
}

func mustPublish(t *testing.T, c *lambda.Client, name string) string {
	t.Helper()
	out, err := c.PublishVersion(context.Background(), &lambda.PublishVersionInput{FunctionName: aws.String(name)})
	if err != nil {
		t.Fatalf("publish %s: %v", name, err)
	}
	return aws.ToString(out.Version)
}

func mustUpdateCode(t *testing.T, c *lambda.Client, name string, zip []byte) {
	t.Helper()
	if _, err := c.UpdateFunctionCode(context.Background(), &lambda.UpdateFunctionCodeInput{FunctionName: aws.String(name), ZipFile: zip}); err != nil {
		t.Fatalf("update %s: %v", name, err)
	}
	MustSettle(t, c, name)
}

// Each version runs its own code; updating $LATEST changes none of them, and
// an invocation in flight finishes on the code it started with.
func TestServe_VersionIsolation(t *testing.T) {
	t.Parallel()
	m := MustOpenMain(t, "")
	c := client(m)
	ctx := context.Background()
	_, err := c.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String("vfn"), Runtime: types.RuntimeProvidedal2023,
		Handler: aws.String("bootstrap"), Role: aws.String("arn:aws:iam::123456789012:role/any"), Code: &types.FunctionCode{ZipFile: mustZipWithTag(t, "A")},
		Environment: &types.Environment{Variables: withMarks(t, nil)}})
	if err != nil {
		t.Fatal(err)
	}
	MustSettle(t, c, "vfn")
	if v := mustPublish(t, c, "vfn"); v != "1" {
		t.Fatalf("first version %q", v)
	}
	mustUpdateCode(t, c, "vfn", mustZipWithTag(t, "B"))
	if v := mustPublish(t, c, "vfn"); v != "2" {
		t.Fatalf("second version %q", v)
	}
	mustUpdateCode(t, c, "vfn", mustZipWithTag(t, "C"))
	for q, want := range map[string][2]string{"": {"C", "$LATEST"}, "$LATEST": {"C", "$LATEST"}, "1": {"A", "1"}, "2": {"B", "2"}} {
		if tag, v := tagOf(t, c, "vfn", q); tag != want[0] || v != want[1] {
			t.Errorf("qualifier %q ran code %q as version %q, want %q as %q", q, tag, v, want[0], want[1])
		}
	}
	// The environment sees its own version.
	out, _ := sdkInvoke(t, c, &lambda.InvokeInput{FunctionName: aws.String("vfn"), Qualifier: aws.String("2"), Payload: []byte(`{"action":"echo"}`)})
	var e echoed
	if json.Unmarshal(out.Payload, &e) != nil || e.Env["AWS_LAMBDA_FUNCTION_VERSION"] != "2" || e.InvokedArn != "arn:aws:lambda:us-east-1:000000000000:function:vfn:2" {
		t.Fatalf("version 2 saw %s", out.Payload)
	}

	// An update while an invocation runs: the invocation keeps its code.
	mark := filepath.Join(t.TempDir(), "started")
	done := make(chan string, 1)
	go func() {
		out, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("vfn"),
			Payload: []byte(`{"action":"file","msg":"tag.txt","ms":700,"mark":"` + mark + `"}`)})
		if err != nil {
			done <- err.Error()
			return
		}
		done <- string(out.Payload)
	}()
	poll.Until(t, 10*time.Second, "the invocation starts", func() bool {
		_, err := os.Stat(mark)
		return err == nil
	})
	mustUpdateCode(t, c, "vfn", mustZipWithTag(t, "D"))
	if tag, _ := tagOf(t, c, "vfn", ""); tag != "D" {
		t.Errorf("after the update $LATEST ran %q", tag)
	}
	if got := <-done; got != `"C"` {
		t.Errorf("the invocation in flight during the update returned %s, want \"C\"", got)
	}
	if tag, _ := tagOf(t, c, "vfn", "1"); tag != "A" {
		t.Errorf("version 1 ran %q after $LATEST changed", tag)
	}
}

// Weighted alias routing sends each invocation to the additional version with
// the configured probability. With n = 400 and weight 0.3 the count of
// version 2 is Binomial(400, 0.3): mean 120, standard deviation 9.2. The
// bound of 6 standard deviations fails a right implementation with
// probability 2e-9, and fails one that ignores the weight (0 or 400), inverts
// it (280) or halves it (60) with probability ~1.
func TestServe_WeightedAlias(t *testing.T) {
	t.Parallel()
	m := MustOpenMain(t, "")
	c := client(m)
	ctx := context.Background()
	MustCreateFunction(t, c, "wfn", 3, nil)
	mustPublish(t, c, "wfn")
	if _, err := c.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("wfn"), Description: aws.String("two")}); err != nil {
		t.Fatal(err)
	}
	MustSettle(t, c, "wfn")
	mustPublish(t, c, "wfn")
	_, err := c.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: aws.String("wfn"), Name: aws.String("live"), FunctionVersion: aws.String("1"),
		RoutingConfig: &types.AliasRoutingConfiguration{AdditionalVersionWeights: map[string]float64{"2": 0.3}}})
	if err != nil {
		t.Fatal(err)
	}
	const n, weight = 400, 0.3
	var (
		mu     sync.Mutex
		counts = map[string]int{}
		wg     sync.WaitGroup
		work   = make(chan int)
	)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range work {
				out, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("wfn:live"), LogType: types.LogTypeTail, Payload: []byte(`{"action":"echo"}`)})
				if err != nil {
					t.Error(err)
					continue
				}
				tail, _ := base64.StdEncoding.DecodeString(aws.ToString(out.LogResult))
				if !strings.Contains(string(tail), " Version: "+aws.ToString(out.ExecutedVersion)+"\n") {
					t.Errorf("executed %s but the START line says %q", aws.ToString(out.ExecutedVersion), tail)
				}
				var e echoed
				_ = json.Unmarshal(out.Payload, &e)
				v := aws.ToString(out.ExecutedVersion)
				if e.Env["AWS_LAMBDA_FUNCTION_VERSION"] != v || e.InvokedArn != "arn:aws:lambda:us-east-1:000000000000:function:wfn:live" {
					t.Errorf("executed %s but the function saw version %s as %s", v, e.Env["AWS_LAMBDA_FUNCTION_VERSION"], e.InvokedArn)
				}
				mu.Lock()
				counts[v]++
				mu.Unlock()
			}
		}()
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	mean, sd := n*weight, math.Sqrt(n*weight*(1-weight))
	if got := float64(counts["2"]); math.Abs(got-mean) > 6*sd || counts["1"]+counts["2"] != n {
		t.Fatalf("versions run: %v; version 2 should run %.0f ± %.0f times", counts, mean, 6*sd)
	}
}

// Every way to name a function, qualified or not, through the SDK and the
// AWS CLI.
func TestServe_QualifiedNames(t *testing.T) {
	m := MustOpenMain(t, "")
	c := client(m)
	ctx := context.Background()
	MustCreateFunction(t, c, "nfn", 3, nil)
	mustPublish(t, c, "nfn")
	if _, err := c.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: aws.String("nfn"), Name: aws.String("prod"), FunctionVersion: aws.String("1")}); err != nil {
		t.Fatal(err)
	}
	arn := "arn:aws:lambda:us-east-1:000000000000:function:nfn"
	for _, tc := range []struct{ name, qualifier, version, invoked string }{
		{"nfn:1", "", "1", arn + ":1"},
		{"nfn:prod", "", "1", arn + ":prod"},
		{"nfn:prod", "prod", "1", arn + ":prod"},
		{"000000000000:function:nfn:1", "", "1", arn + ":1"},
		{"000000000000:function:nfn", "prod", "1", arn + ":prod"},
		{arn + ":prod", "", "1", arn + ":prod"},
		{arn, "$LATEST", "$LATEST", arn + ":$LATEST"},
	} {
		in := &lambda.InvokeInput{FunctionName: aws.String(tc.name), Payload: []byte(`{"action":"echo"}`)}
		if tc.qualifier != "" {
			in.Qualifier = aws.String(tc.qualifier)
		}
		out, _ := sdkInvoke(t, c, in)
		var e echoed
		if json.Unmarshal(out.Payload, &e) != nil || aws.ToString(out.ExecutedVersion) != tc.version || e.InvokedArn != tc.invoked {
			t.Errorf("%s (qualifier %q): ran %s as %s, want %s as %s", tc.name, tc.qualifier, aws.ToString(out.ExecutedVersion), e.InvokedArn, tc.version, tc.invoked)
		}
	}
	for _, tc := range []struct{ name, qualifier, code, msg string }{
		{"nfn:1", "prod", "InvalidParameterValueException", "The derived qualifier from the function name does not match the specified qualifier."},
		{"nfn:7", "", "ResourceNotFoundException", "Function not found: " + arn + ":7"},
		{"nfn", "staging", "ResourceNotFoundException", "Function not found: " + arn + ":staging"},
		{"nfn", "$latest", "ResourceNotFoundException", "Function not found: " + arn + ":$latest"},
		{"nfn", "bad!", "ValidationException", "1 validation error detected: Value 'bad!' at 'qualifier' failed to satisfy constraint: Member must satisfy regular expression pattern: "},
		{"arn:aws:lambda:ap-southeast-1:000000000000:function:nfn:1", "", "ResourceNotFoundException", "Functions from 'ap-southeast-1' are not reachable in this region ('us-east-1')"},
	} {
		in := &lambda.InvokeInput{FunctionName: aws.String(tc.name)}
		if tc.qualifier != "" {
			in.Qualifier = aws.String(tc.qualifier)
		}
		_, err := c.Invoke(ctx, in)
		if apiErrorCode(err) != tc.code || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s (qualifier %q): %v; want %s: %s", tc.name, tc.qualifier, err, tc.code, tc.msg)
		}
	}

	// The AWS CLI's --qualifier and qualified names.
	out := filepath.Join(t.TempDir(), "out.json")
	for _, args := range [][]string{{"--function-name", "nfn", "--qualifier", "prod"}, {"--function-name", arn + ":1"}} {
		stdout, stderr, code := awsCLI(t, m, append(append([]string{"lambda", "invoke"}, args...), "--payload", `{"action":"noop"}`, out)...)
		if code != 0 || !strings.Contains(stdout, `"ExecutedVersion": "1"`) {
			t.Errorf("aws lambda invoke %v: %d %s %s", args, code, stdout, stderr)
		}
	}
	_, stderr, code := awsCLI(t, m, "lambda", "invoke", "--function-name", "nfn", "--qualifier", "nope", out)
	if code == 0 || !strings.Contains(stderr, "Function not found: "+arn+":nope") {
		t.Errorf("aws lambda invoke --qualifier nope: %d %s", code, stderr)
	}

	// lambada invoke, the same way.
	t.Setenv("AWS_ACCESS_KEY_ID", "x")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "x")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	for _, args := range [][]string{{"--function-name", "nfn", "--qualifier", "prod"}, {"--function-name", "000000000000:function:nfn:1"}} {
		var stdout, stderr bytes.Buffer
		err := run(ctx, append(append([]string{"invoke", "--endpoint-url", "http://" + m.Addr()}, args...), "--payload", `{"action":"noop"}`, out), &stdout, &stderr)
		if err != nil || !strings.Contains(stdout.String(), `"ExecutedVersion": "1"`) {
			t.Errorf("lambada invoke %v: %v %s", args, err, stdout.String())
		}
	}
}
