package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// fakeResponse is what fakeLambda answers for one function name.
type fakeResponse struct {
	status int
	header map[string]string
	body   string
}

// recordedRequest is one request fakeLambda received.
type recordedRequest struct {
	Method     string
	RequestURI string
	Function   string // the decoded {FunctionName} path segment
	Query      string
	Header     http.Header
	Body       string
}

// fakeLambda is a Lambda API stand-in on 127.0.0.1 that serves Invoke only.
// It records every request and answers with responses[function name], or
// with a 200 carrying {"ok":true} and ExecutedVersion $LATEST.
type fakeLambda struct {
	URL string

	mu        sync.Mutex
	reqs      []recordedRequest
	responses map[string]fakeResponse
}

func newFakeLambda(t *testing.T) *fakeLambda {
	t.Helper()
	f := &fakeLambda{responses: map[string]fakeResponse{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /2015-03-31/functions/{name}/invocations", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		name := r.PathValue("name")
		f.mu.Lock()
		f.reqs = append(f.reqs, recordedRequest{
			Method:     r.Method,
			RequestURI: r.RequestURI,
			Function:   name,
			Query:      r.URL.RawQuery,
			Header:     r.Header.Clone(),
			Body:       string(body),
		})
		resp, ok := f.responses[name]
		f.mu.Unlock()
		if !ok {
			resp = fakeResponse{status: 200, header: map[string]string{"X-Amz-Executed-Version": "$LATEST"}, body: `{"ok":true}`}
		}
		for k, v := range resp.header {
			w.Header()[http.CanonicalHeaderKey(k)] = []string{v}
		}
		w.WriteHeader(resp.status)
		io.WriteString(w, resp.body)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("fake Lambda: unexpected request %s %s", r.Method, r.RequestURI)
		http.NotFound(w, r)
	})
	srv := newLocalServer(t, mux)
	f.URL = srv.URL
	return f
}

func (f *fakeLambda) respond(name string, resp fakeResponse) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.responses[name] = resp
}

func (f *fakeLambda) requests() []recordedRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]recordedRequest(nil), f.reqs...)
}

// last returns the only request received since the previous call.
func (f *fakeLambda) last(t *testing.T) recordedRequest {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.reqs) != 1 {
		t.Fatalf("fake Lambda received %d requests, want 1: %+v", len(f.reqs), f.reqs)
	}
	r := f.reqs[0]
	f.reqs = nil
	return r
}

// newLocalServer starts h on 127.0.0.1 only.
func newLocalServer(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

// mustNotBeUsed starts a server that fails the test if anything reaches it.
func mustNotBeUsed(t *testing.T, what string) string {
	t.Helper()
	return newLocalServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("%s was used: %s %s", what, r.Method, r.RequestURI)
		w.Header().Set("X-Amzn-ErrorType", "WrongEndpointException")
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"message":"wrong endpoint"}`)
	})).URL
}

// unsetenv unsets key for the test, restoring it afterwards. (An empty
// value is not the same: the SDK looks some variables up with LookupEnv.)
func unsetenv(t *testing.T, key string) {
	t.Helper()
	t.Setenv(key, "")
	os.Unsetenv(key)
}

// isolateAWSEnv clears every AWS_ variable, points the shared config and
// credentials files at empty files and the EC2 instance metadata service at
// a server that fails the test. It returns a temporary directory.
func isolateAWSEnv(t *testing.T) string {
	t.Helper()
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "AWS_") {
			unsetenv(t, k)
		}
	}
	dir := t.TempDir()
	t.Setenv("AWS_CONFIG_FILE", mustWriteFile(t, filepath.Join(dir, "aws-config"), ""))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", mustWriteFile(t, filepath.Join(dir, "aws-credentials"), ""))
	t.Setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", mustNotBeUsed(t, "the EC2 instance metadata service"))
	return dir
}

// withCredentials sets test credentials and a region in the environment.
func withCredentials(t *testing.T) {
	t.Helper()
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDTEST")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_DEFAULT_REGION", "us-east-1")
}

func mustWriteFile(t *testing.T, path, content string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func mustReadFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// runInvoke runs `lambada invoke args…` with localDefault as the default
// endpoint ("" means a server that fails the test).
func runInvoke(t *testing.T, localDefault string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	if localDefault == "" {
		localDefault = mustNotBeUsed(t, "the local default endpoint")
	}
	var out, errOut bytes.Buffer
	cmd := &invokeCommand{Stdout: &out, Stderr: &errOut, defaultEndpoint: localDefault}
	err = cmd.Run(context.Background(), args)
	return out.String(), errOut.String(), err
}

func TestInvoke_Request(t *testing.T) {
	dir := isolateAWSEnv(t)
	withCredentials(t)
	fake := newFakeLambda(t)
	fake.respond("my-fn", fakeResponse{
		status: 200,
		header: map[string]string{
			"X-Amz-Function-Error":   "Unhandled",
			"X-Amz-Log-Result":       "U1RBUlQgUmVxdWVzdElkOiAx",
			"X-Amz-Executed-Version": "3",
		},
		body: `{"errorMessage":"boom","errorType":"Exception"}`,
	})
	outfile := filepath.Join(dir, "out.json")

	stdout, _, err := runInvoke(t, "", "--endpoint-url", fake.URL,
		"--function-name", "my-fn", "--invocation-type", "RequestResponse", "--log-type", "Tail",
		"--client-context", "eyJjdXN0b20iOnsiYSI6MX19", "--payload", `{"a": 1}`, "--qualifier", "3", outfile)
	if err != nil {
		t.Fatal(err)
	}

	r := fake.last(t)
	if r.Method != "POST" || r.RequestURI != "/2015-03-31/functions/my-fn/invocations?Qualifier=3" {
		t.Errorf("request = %s %s", r.Method, r.RequestURI)
	}
	for h, want := range map[string]string{
		"X-Amz-Invocation-Type": "RequestResponse",
		"X-Amz-Log-Type":        "Tail",
		"X-Amz-Client-Context":  "eyJjdXN0b20iOnsiYSI6MX19",
	} {
		if got := r.Header.Get(h); got != want {
			t.Errorf("%s = %q, want %q", h, got, want)
		}
	}
	if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 Credential=AKIDTEST/") {
		t.Errorf("Authorization = %q, want a SigV4 signature with the configured key", r.Header.Get("Authorization"))
	}
	if r.Body != `{"a": 1}` {
		t.Errorf("body = %q", r.Body)
	}
	if got := mustReadFile(t, outfile); got != `{"errorMessage":"boom","errorType":"Exception"}` {
		t.Errorf("outfile = %q", got)
	}
	want := "{\n" +
		"    \"StatusCode\": 200,\n" +
		"    \"FunctionError\": \"Unhandled\",\n" +
		"    \"LogResult\": \"U1RBUlQgUmVxdWVzdElkOiAx\",\n" +
		"    \"ExecutedVersion\": \"3\"\n" +
		"}\n"
	if stdout != want {
		t.Errorf("stdout = %q, want %q", stdout, want)
	}
}

func TestInvoke_OptionalHeadersOmitted(t *testing.T) {
	dir := isolateAWSEnv(t)
	withCredentials(t)
	fake := newFakeLambda(t)

	if _, _, err := runInvoke(t, "", "--endpoint-url", fake.URL, "--function-name", "f", filepath.Join(dir, "out")); err != nil {
		t.Fatal(err)
	}
	r := fake.last(t)
	for _, h := range []string{"X-Amz-Invocation-Type", "X-Amz-Log-Type", "X-Amz-Client-Context"} {
		if v, ok := r.Header[h]; ok {
			t.Errorf("%s sent (%q), want it absent", h, v)
		}
	}
	if r.RequestURI != "/2015-03-31/functions/f/invocations" || r.Body != "" {
		t.Errorf("request = %s with body %q, want no query and no body", r.RequestURI, r.Body)
	}
}

func TestInvoke_Interspersed(t *testing.T) {
	dir := isolateAWSEnv(t)
	withCredentials(t)
	fake := newFakeLambda(t)
	out := filepath.Join(dir, "out.json")
	dashOut := filepath.Join(dir, "-out.json")

	for _, tc := range []struct {
		name    string
		args    []string
		outfile string
		payload string
	}{
		{"outfile last", []string{"--function-name", "f", "--payload", "1", out}, out, "1"},
		{"outfile first", []string{out, "--function-name", "f", "--payload", "2"}, out, "2"},
		{"outfile between", []string{"--function-name", "f", out, "--payload", "3"}, out, "3"},
		{"flag=value", []string{"--function-name=f", out, "--payload=4"}, out, "4"},
		{"single dash", []string{"-function-name", "f", out, "-payload", "5"}, out, "5"},
		{"value looks like a flag", []string{"--function-name", "f", "--payload", "-6", out}, out, "-6"},
		{"after --", []string{"--function-name", "f", "--payload", "7", "--", dashOut}, dashOut, "7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			os.Remove(tc.outfile)
			args := append([]string{"--endpoint-url", fake.URL}, tc.args...)
			if _, stderr, err := runInvoke(t, "", args...); err != nil {
				t.Fatalf("%v\n%s", err, stderr)
			}
			if r := fake.last(t); r.Function != "f" || r.Body != tc.payload {
				t.Errorf("invoked %q with %q, want f with %q", r.Function, r.Body, tc.payload)
			}
			if got := mustReadFile(t, tc.outfile); got != `{"ok":true}` {
				t.Errorf("outfile = %q", got)
			}
		})
	}
}

func TestInvoke_Payload(t *testing.T) {
	dir := isolateAWSEnv(t)
	withCredentials(t)
	fake := newFakeLambda(t)
	out := filepath.Join(dir, "out")
	t.Setenv("HOME", dir)
	t.Setenv("PAYLOAD_DIR", dir)

	text := mustWriteFile(t, filepath.Join(dir, "text.json"), "{\"a\": \"é\",\r\n\"b\": 1}\r")
	binary := mustWriteFile(t, filepath.Join(dir, "binary"), "{\"a\":\r\n1}\xff\x00")
	invalid := mustWriteFile(t, filepath.Join(dir, "invalid.json"), "{\"a\": \"\xe9\"}")

	for _, tc := range []struct {
		name, payload, want string
	}{
		{"raw", `{"k": "v é"}`, `{"k": "v é"}`},
		{"empty", "", ""},
		{"file is text with universal newlines", "file://" + text, "{\"a\": \"é\",\n\"b\": 1}\n"},
		{"fileb is bytes", "fileb://" + binary, "{\"a\":\r\n1}\xff\x00"},
		{"file with ~", "file://~/text.json", "{\"a\": \"é\",\n\"b\": 1}\n"},
		{"fileb with ${VAR}", "fileb://${PAYLOAD_DIR}/binary", "{\"a\":\r\n1}\xff\x00"},
		{"fileb with $VAR", "fileb://$PAYLOAD_DIR/binary", "{\"a\":\r\n1}\xff\x00"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := runInvoke(t, "", "--endpoint-url", fake.URL, "--function-name", "f", "--payload", tc.payload, out); err != nil {
				t.Fatal(err)
			}
			if got := fake.last(t).Body; got != tc.want {
				t.Errorf("body = %q, want %q", got, tc.want)
			}
		})
	}

	for _, tc := range []struct {
		name, payload, want string
	}{
		{"file not UTF-8", "file://" + invalid,
			"Error parsing parameter '--payload': Unable to load paramfile (" + invalid + "), text contents could not be decoded.  If this is a binary file, please use the fileb:// prefix instead of the file:// prefix."},
		{"missing file", "fileb://" + dir + "/missing",
			"Error parsing parameter '--payload': Unable to load paramfile fileb://" + dir + "/missing: open " + dir + "/missing: no such file or directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := runInvoke(t, "", "--endpoint-url", fake.URL, "--function-name", "f", "--payload", tc.payload, out)
			if err == nil || err.Error() != tc.want {
				t.Errorf("err = %v, want %s", err, tc.want)
			}
			if n := len(fake.requests()); n != 0 {
				t.Errorf("%d requests sent, want none", n)
			}
		})
	}
}

func TestInvoke_Output(t *testing.T) {
	dir := isolateAWSEnv(t)
	withCredentials(t)
	fake := newFakeLambda(t)
	fake.respond("event", fakeResponse{status: 202})
	fake.respond("dry", fakeResponse{status: 204})
	fake.respond("odd", fakeResponse{status: 200,
		header: map[string]string{"X-Amz-Function-Error": "caf\xe9 \"<&>\\", "X-Amz-Durable-Execution-Arn": "arn:durable"},
		body:   `"str"`})

	for _, tc := range []struct {
		name, function, invocationType, stdout, outfile string
	}{
		{"event", "event", "Event", "{\n    \"StatusCode\": 202\n}\n", ""},
		{"dry run", "dry", "DryRun", "{\n    \"StatusCode\": 204\n}\n", ""},
		{"default", "f", "", "{\n    \"StatusCode\": 200,\n    \"ExecutedVersion\": \"$LATEST\"\n}\n", `{"ok":true}`},
		{"odd header values", "odd", "", "{\n    \"StatusCode\": 200,\n    \"FunctionError\": \"café \\\"<&>\\\\\",\n    \"DurableExecutionArn\": \"arn:durable\"\n}\n", `"str"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := mustWriteFile(t, filepath.Join(dir, tc.name), "previous content")
			args := []string{"--endpoint-url", fake.URL, "--function-name", tc.function, out}
			if tc.invocationType != "" {
				args = append(args, "--invocation-type", tc.invocationType)
			}
			stdout, _, err := runInvoke(t, "", args...)
			if err != nil {
				t.Fatal(err)
			}
			if r := fake.last(t); r.Header.Get("X-Amz-Invocation-Type") != tc.invocationType {
				t.Errorf("X-Amz-Invocation-Type = %q, want %q", r.Header.Get("X-Amz-Invocation-Type"), tc.invocationType)
			}
			if stdout != tc.stdout {
				t.Errorf("stdout = %q, want %q", stdout, tc.stdout)
			}
			if got := mustReadFile(t, out); got != tc.outfile {
				t.Errorf("outfile = %q, want %q", got, tc.outfile)
			}
		})
	}
}

func TestInvoke_APIErrors(t *testing.T) {
	dir := isolateAWSEnv(t)
	withCredentials(t)
	t.Setenv("AWS_MAX_ATTEMPTS", "1")
	fake := newFakeLambda(t)
	fake.respond("missing", fakeResponse{status: 404,
		header: map[string]string{"X-Amzn-ErrorType": "ResourceNotFoundException", "Content-Type": "application/json"},
		body:   `{"Type":"User","Message":"Function not found: arn:aws:lambda:us-east-1:000000000000:function:missing:$LATEST"}`})
	fake.respond("bad", fakeResponse{status: 400,
		header: map[string]string{"X-Amzn-ErrorType": "InvalidRequestContentException"},
		body:   `{"Type":"User","message":"Could not parse request body into json"}`})
	fake.respond("throttled", fakeResponse{status: 429,
		header: map[string]string{"X-Amzn-ErrorType": "TooManyRequestsException"},
		body:   `{"Reason":"ConcurrentInvocationLimitExceeded","Type":"User","message":"Rate Exceeded."}`})
	fake.respond("broken", fakeResponse{status: 500,
		header: map[string]string{"X-Amzn-ErrorType": "ServiceException"},
		body:   `{"Message":"An error occurred and the request cannot be processed.","Type":"Service"}`})
	fake.respond("unmodelled", fakeResponse{status: 413,
		header: map[string]string{"X-Amzn-ErrorType": "RequestEntityTooLargeException"},
		body:   `{"message":"Request must be smaller than 6291456 bytes for the InvokeFunction operation"}`})

	for _, tc := range []struct {
		function, want string
	}{
		{"missing", "An error occurred (ResourceNotFoundException) when calling the Invoke operation: Function not found: arn:aws:lambda:us-east-1:000000000000:function:missing:$LATEST"},
		{"bad", "An error occurred (InvalidRequestContentException) when calling the Invoke operation: Could not parse request body into json"},
		{"throttled", "An error occurred (TooManyRequestsException) when calling the Invoke operation (reached max retries: 0): Rate Exceeded."},
		{"broken", "An error occurred (ServiceException) when calling the Invoke operation (reached max retries: 0): An error occurred and the request cannot be processed."},
		{"unmodelled", "An error occurred (RequestEntityTooLargeException) when calling the Invoke operation: Request must be smaller than 6291456 bytes for the InvokeFunction operation"},
	} {
		t.Run(tc.function, func(t *testing.T) {
			out := filepath.Join(dir, tc.function)
			stdout, _, err := runInvoke(t, "", "--endpoint-url", fake.URL, "--function-name", tc.function, out)
			if err == nil || err.Error() != tc.want {
				t.Errorf("err = %v\nwant  %s", err, tc.want)
			}
			fake.last(t) // exactly one attempt with AWS_MAX_ATTEMPTS=1
			if stdout != "" {
				t.Errorf("stdout = %q, want nothing", stdout)
			}
			if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("outfile written on error (stat: %v)", err)
			}
		})
	}
}

func TestInvoke_ConnectionRefused(t *testing.T) {
	dir := isolateAWSEnv(t)
	withCredentials(t)
	t.Setenv("AWS_MAX_ATTEMPTS", "1")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()

	_, _, err = runInvoke(t, "", "--endpoint-url", "http://"+addr, "--function-name", "f", "--qualifier", "1", filepath.Join(dir, "out"))
	want := `Could not connect to the endpoint URL: "http://` + addr + `/2015-03-31/functions/f/invocations?Qualifier=1"`
	if err == nil || err.Error() != want {
		t.Errorf("err = %v, want %s", err, want)
	}
}

func TestInvoke_Retries(t *testing.T) {
	isolateAWSEnv(t)
	withCredentials(t)
	cmd := &invokeCommand{Stdout: io.Discard, Stderr: io.Discard}
	for _, tc := range []struct {
		env  string
		want int
	}{
		{"", 3},
		{"1", 1},
		{"5", 5},
	} {
		t.Run("AWS_MAX_ATTEMPTS="+tc.env, func(t *testing.T) {
			if tc.env == "" {
				unsetenv(t, "AWS_MAX_ATTEMPTS")
			} else {
				t.Setenv("AWS_MAX_ATTEMPTS", tc.env)
			}
			client, err := cmd.client(context.Background(), &invokeArgs{endpointURL: "http://127.0.0.1:1"})
			if err != nil {
				t.Fatal(err)
			}
			if got := client.Options().Retryer.MaxAttempts(); got != tc.want {
				t.Errorf("max attempts = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestInvoke_EndpointResolution(t *testing.T) {
	for _, tc := range []struct {
		name string
		// Each names the endpoints that are set; want is the one used.
		flag, lambdaEnv, globalEnv, servicesConfig, profileConfig, ignore bool
		want                                                              string
	}{
		{name: "flag first", flag: true, lambdaEnv: true, globalEnv: true, servicesConfig: true, profileConfig: true, want: "flag"},
		{name: "AWS_ENDPOINT_URL_LAMBDA next", lambdaEnv: true, globalEnv: true, servicesConfig: true, profileConfig: true, want: "lambdaEnv"},
		{name: "AWS_ENDPOINT_URL next", globalEnv: true, servicesConfig: true, profileConfig: true, want: "globalEnv"},
		{name: "config services section next", servicesConfig: true, profileConfig: true, want: "servicesConfig"},
		{name: "config profile last", profileConfig: true, want: "profileConfig"},
		{name: "none: local default", want: "localDefault"},
		{name: "ignored configured endpoints", lambdaEnv: true, globalEnv: true, servicesConfig: true, profileConfig: true, ignore: true, want: "localDefault"},
		{name: "ignored but flag", flag: true, lambdaEnv: true, globalEnv: true, ignore: true, want: "flag"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := isolateAWSEnv(t)
			withCredentials(t)
			fake := newFakeLambda(t)
			url := func(which string) string {
				if which == tc.want {
					return fake.URL
				}
				return mustNotBeUsed(t, which)
			}

			var args []string
			if tc.flag {
				args = append(args, "--endpoint-url", url("flag"))
			}
			if tc.lambdaEnv {
				t.Setenv("AWS_ENDPOINT_URL_LAMBDA", url("lambdaEnv"))
			}
			if tc.globalEnv {
				t.Setenv("AWS_ENDPOINT_URL", url("globalEnv"))
			}
			var cfg strings.Builder
			cfg.WriteString("[default]\n")
			if tc.profileConfig {
				cfg.WriteString("endpoint_url = " + url("profileConfig") + "\n")
			}
			if tc.servicesConfig {
				cfg.WriteString("services = local\n\n[services local]\nlambda =\n  endpoint_url = " + url("servicesConfig") + "\n")
			}
			mustWriteFile(t, os.Getenv("AWS_CONFIG_FILE"), cfg.String())
			if tc.ignore {
				t.Setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true")
			}
			localDefault := mustNotBeUsed(t, "the local default endpoint")
			if tc.want == "localDefault" {
				localDefault = fake.URL
			}

			args = append(args, "--function-name", "f", filepath.Join(dir, "out"))
			if _, _, err := runInvoke(t, localDefault, args...); err != nil {
				t.Fatal(err)
			}
			fake.last(t)
		})
	}
}

func TestInvoke_LocalDefaultCredentials(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T)
		key   string
	}{
		{"none configured: dummy", func(t *testing.T) {}, localAccessKeyID},
		{"environment", func(t *testing.T) {
			t.Setenv("AWS_ACCESS_KEY_ID", "AKIDENV")
			t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
		}, "AKIDENV"},
		{"shared credentials file", func(t *testing.T) {
			mustWriteFile(t, os.Getenv("AWS_SHARED_CREDENTIALS_FILE"),
				"[default]\naws_access_key_id = AKIDFILE\naws_secret_access_key = secret\n")
		}, "AKIDFILE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := isolateAWSEnv(t) // the instance metadata service fails the test if asked
			tc.setup(t)
			fake := newFakeLambda(t)
			if _, _, err := runInvoke(t, fake.URL, "--function-name", "f", filepath.Join(dir, "out")); err != nil {
				t.Fatal(err)
			}
			want := "AWS4-HMAC-SHA256 Credential=" + tc.key + "/"
			if got := fake.last(t).Header.Get("Authorization"); !strings.HasPrefix(got, want) {
				t.Errorf("Authorization = %q, want prefix %q", got, want)
			}
		})
	}
}

func TestInvoke_Region(t *testing.T) {
	for _, tc := range []struct {
		name      string
		flag, env string
		want      string
	}{
		{"default", "", "", "us-east-1"},
		{"AWS_REGION", "", "ap-south-1", "ap-south-1"},
		{"flag over AWS_REGION", "eu-west-1", "ap-south-1", "eu-west-1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := isolateAWSEnv(t)
			if tc.env != "" {
				t.Setenv("AWS_REGION", tc.env)
			}
			fake := newFakeLambda(t)
			args := []string{"--function-name", "f", filepath.Join(dir, "out")}
			if tc.flag != "" {
				args = append(args, "--region", tc.flag)
			}
			if _, _, err := runInvoke(t, fake.URL, args...); err != nil {
				t.Fatal(err)
			}
			want := "/" + tc.want + "/lambda/aws4_request,"
			if got := fake.last(t).Header.Get("Authorization"); !strings.Contains(got, want) {
				t.Errorf("Authorization = %q, want scope %q", got, want)
			}
		})
	}
}

func TestInvoke_Usage(t *testing.T) {
	dir := isolateAWSEnv(t)
	withCredentials(t)
	fake := newFakeLambda(t)
	out := filepath.Join(dir, "out")

	for _, tc := range []struct {
		name      string
		args      []string
		want      string // the error's text
		wantUsage bool
	}{
		{"help", []string{"-h"}, flag.ErrHelp.Error(), true},
		{"no function name", []string{out}, "invoke: the following arguments are required: --function-name", true},
		{"no outfile", []string{"--function-name", "f"}, "invoke: the following arguments are required: outfile", true},
		{"two outfiles", []string{"--function-name", "f", out, "extra"}, "invoke: unexpected arguments: extra", true},
		{"unknown flag", []string{"--function-name", "f", "--tenant", "x", out}, "invoke: flag provided but not defined: -tenant", true},
		{"flag without value", []string{out, "--function-name"}, "invoke: flag needs an argument: -function-name", true},
		{"empty function name", []string{"--function-name", "", out},
			"Parameter validation failed:\nInvalid length for parameter FunctionName, value: 0, valid min length: 1", false},
		{"empty qualifier", []string{"--function-name", "f", "--qualifier", "", out},
			"Parameter validation failed:\nInvalid length for parameter Qualifier, value: 0, valid min length: 1", false},
		{"endpoint without scheme", []string{"--function-name", "f", "--endpoint-url", "127.0.0.1:9001", out},
			`Bad value for --endpoint-url "127.0.0.1:9001": scheme is missing.  Must be of the form http://<hostname>/ or https://<hostname>/`, false},
		{"outfile directory missing", []string{"--endpoint-url", fake.URL, "--function-name", "f", dir + "/missing/out"},
			"Unable to write to file: " + dir + "/missing/out: stat " + dir + "/missing: no such file or directory", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, err := runInvoke(t, "", tc.args...)
			if err == nil || err.Error() != tc.want {
				t.Errorf("err = %v, want %s", err, tc.want)
			}
			if tc.name == "help" && !errors.Is(err, flag.ErrHelp) {
				t.Errorf("err = %v, want flag.ErrHelp", err)
			}
			if hasUsage := strings.HasPrefix(stderr, "Usage: lambada invoke"); hasUsage != tc.wantUsage {
				t.Errorf("usage printed: %v, want %v (stderr %q)", hasUsage, tc.wantUsage, stderr)
			}
			if n := len(fake.requests()); n != 0 {
				t.Errorf("%d requests sent, want none", n)
			}
		})
	}
}

// TestInvoke_MatchesAWSCLI runs the AWS CLI and lambada invoke against the
// same fake server and compares the requests, outfiles, printed JSON and
// error texts byte for byte.
func TestInvoke_MatchesAWSCLI(t *testing.T) {
	awsPath, err := exec.LookPath("aws")
	if err != nil {
		t.Skip("the AWS CLI is not installed")
	}
	dir := isolateAWSEnv(t)
	withCredentials(t)
	t.Setenv("AWS_MAX_ATTEMPTS", "1")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_DEFAULT_OUTPUT", "json")
	responses := map[string]fakeResponse{
		"full": fakeResponse{status: 200,
			header: map[string]string{
				"X-Amz-Function-Error":        "Unhandled",
				"X-Amz-Log-Result":            "U1RBUlQgUmVxdWVzdElkOiAx",
				"X-Amz-Executed-Version":      "$LATEST",
				"X-Amz-Durable-Execution-Arn": "arn:aws:lambda:us-east-1:000000000000:function:full:$LATEST/durable-execution/x",
			},
			body: `{"errorMessage":"boom","errorType":"Exception"}`},
		"odd": fakeResponse{status: 200,
			header: map[string]string{"X-Amz-Function-Error": "caf\xe9 \"<&>\\ \u2028"},
			body:   "\x00\xff"},
		"event": fakeResponse{status: 202},
		"dry":   fakeResponse{status: 204},
		"missing": fakeResponse{status: 404,
			header: map[string]string{"X-Amzn-ErrorType": "ResourceNotFoundException", "Content-Type": "application/json"},
			body:   `{"Type":"User","Message":"Function not found: arn:aws:lambda:us-east-1:000000000000:function:missing:$LATEST"}`},
		"invalid": fakeResponse{status: 400,
			header: map[string]string{"X-Amzn-ErrorType": "ValidationException"},
			body:   `{"message":"1 validation error detected: Value 'x' at 'qualifier' failed to satisfy constraint: Member must have length less than or equal to 128"}`},
		"throttled": fakeResponse{status: 429,
			header: map[string]string{"X-Amzn-ErrorType": "TooManyRequestsException"},
			body:   `{"Reason":"ConcurrentInvocationLimitExceeded","Type":"User","message":"Rate Exceeded."}`},
		"nocode": fakeResponse{status: 502, body: `{"message":"Bad gateway"}`},
		"denied": fakeResponse{status: 403,
			header: map[string]string{"X-Amzn-ErrorType": "AccessDeniedException"},
			body:   `{}`},
	}

	crlf := mustWriteFile(t, filepath.Join(dir, "crlf.json"), "{\"a\": \"é\",\r\n\"b\": 1}\r\n")

	cases := []struct {
		name string
		args []string
	}{
		{"full", []string{"--function-name", "full", "--log-type", "Tail", "--client-context", "eyJhIjoxfQ==", "--qualifier", "$LATEST", "--payload", `{"k": "v"}`}},
		{"odd header and payload bytes", []string{"--function-name", "odd"}},
		{"event", []string{"--function-name", "event", "--invocation-type", "Event", "--payload", `{}`}},
		{"dry run", []string{"--function-name", "dry", "--invocation-type", "DryRun"}},
		{"file payload", []string{"--function-name", "f", "--payload", "file://" + crlf}},
		{"fileb payload", []string{"--function-name", "f", "--payload", "fileb://" + crlf}},
		{"arn", []string{"--function-name", "arn:aws:lambda:us-east-1:000000000000:function:f:1"}},
		{"not found", []string{"--function-name", "missing"}},
		{"validation", []string{"--function-name", "invalid"}},
		{"throttled", []string{"--function-name", "throttled"}},
		{"no message", []string{"--function-name", "denied"}},
		{"no code", []string{"--function-name", "nocode"}},
	}

	// The CLI's runs (a Python start each) go in parallel, each against a
	// fake of its own; then each case runs ours against the same fake.
	type cliRun struct {
		fake           *fakeLambda
		out            string
		stdout, stderr bytes.Buffer
		err            error
	}
	runs := make([]*cliRun, len(cases))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for i, tc := range cases {
		r := &cliRun{fake: newFakeLambda(t), out: filepath.Join(dir, fmt.Sprintf("cli-%d.out", i))}
		for name, resp := range responses {
			r.fake.respond(name, resp)
		}
		runs[i] = r
		cli := exec.Command(awsPath, append([]string{"--endpoint-url", r.fake.URL, "lambda", "invoke", r.out}, tc.args...)...)
		cli.Stdout, cli.Stderr = &r.stdout, &r.stderr
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			r.err = cli.Run()
		}()
	}
	wg.Wait()

	for i, tc := range cases {
		r := runs[i]
		t.Run(tc.name, func(t *testing.T) {
			cliOut, oursOut := r.out, filepath.Join(dir, fmt.Sprintf("ours-%d.out", i))
			cliErr := r.err
			cliReq := r.fake.last(t)

			stdout, _, err := runInvoke(t, "", append([]string{"--endpoint-url", r.fake.URL, oursOut}, tc.args...)...)
			ourReq := r.fake.last(t)

			if cliReq.Function != ourReq.Function || cliReq.Query != ourReq.Query || cliReq.Body != ourReq.Body {
				t.Errorf("request: CLI %q ?%q body %q; ours %q ?%q body %q",
					cliReq.Function, cliReq.Query, cliReq.Body, ourReq.Function, ourReq.Query, ourReq.Body)
			}
			for _, h := range []string{"X-Amz-Invocation-Type", "X-Amz-Log-Type", "X-Amz-Client-Context"} {
				if cliReq.Header.Get(h) != ourReq.Header.Get(h) {
					t.Errorf("%s: CLI %q, ours %q", h, cliReq.Header.Get(h), ourReq.Header.Get(h))
				}
			}
			if cliErr != nil {
				want := strings.TrimSuffix(strings.TrimPrefix(r.stderr.String(), "\n"), "\n")
				if err == nil || err.Error() != want {
					t.Errorf("error: CLI %q\n       ours %v", want, err)
				}
			} else if err != nil {
				t.Errorf("CLI succeeded, ours failed: %v", err)
			}
			if stdout != r.stdout.String() {
				t.Errorf("stdout: CLI %q\n        ours %q", r.stdout.String(), stdout)
			}
			cliFile, cliFileErr := os.ReadFile(cliOut)
			ourFile, ourFileErr := os.ReadFile(oursOut)
			if string(cliFile) != string(ourFile) || (cliFileErr == nil) != (ourFileErr == nil) {
				t.Errorf("outfile: CLI %q (%v), ours %q (%v)", cliFile, cliFileErr, ourFile, ourFileErr)
			}
		})
	}
}
