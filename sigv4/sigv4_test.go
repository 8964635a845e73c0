package sigv4

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

type secrets map[string]string

func (s secrets) Secret(id string) (string, string, bool) { v, ok := s[id]; return v, "", ok }

var keys = secrets{"AKIDALICE": "alice-secret"}

const invokePath = "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A111111111111%3Afunction%3Af/invocations"

// signed is a request as the AWS SDK for Go signs it.
func signed(t *testing.T, key, secret, region, service string, at time.Time, body string) *http.Request {
	t.Helper()
	r, err := http.NewRequest("POST", "http://127.0.0.1:9001"+invokePath+"?Qualifier=live", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("X-Amz-Invocation-Type", "RequestResponse")
	sum := sha256.Sum256([]byte(body))
	if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: key, SecretAccessKey: secret}, r, hex.EncodeToString(sum[:]), service, region, at); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestVerify(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name    string
		req     func() (*http.Request, string)
		typ     string
		message string
	}{
		{"signed", func() (*http.Request, string) {
			return signed(t, "AKIDALICE", "alice-secret", "us-east-1", "lambda", now, `{"a":1}`), `{"a":1}`
		}, "", ""},
		{"body changed", func() (*http.Request, string) {
			return signed(t, "AKIDALICE", "alice-secret", "us-east-1", "lambda", now, `{"a":1}`), `{"a":2}`
		},
			"InvalidSignatureException", "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."},
		{"header changed", func() (*http.Request, string) {
			r := signed(t, "AKIDALICE", "alice-secret", "us-east-1", "lambda", now, `{}`)
			r.Header.Set("X-Amz-Invocation-Type", "Event")
			return r, `{}`
		}, "InvalidSignatureException", "The request signature we calculated…"},
		{"query changed", func() (*http.Request, string) {
			r := signed(t, "AKIDALICE", "alice-secret", "us-east-1", "lambda", now, `{}`)
			r.URL.RawQuery = "Qualifier=other"
			return r, `{}`
		}, "InvalidSignatureException", "The request signature we calculated…"},
		{"wrong secret", func() (*http.Request, string) {
			return signed(t, "AKIDALICE", "guess", "us-east-1", "lambda", now, `{}`), `{}`
		}, "InvalidSignatureException", "The request signature we calculated…"},
		{"unknown key", func() (*http.Request, string) {
			return signed(t, "AKIDMALLORY", "x", "us-east-1", "lambda", now, `{}`), `{}`
		},
			"UnrecognizedClientException", "The security token included in the request is invalid."},
		{"no signature", func() (*http.Request, string) {
			r, _ := http.NewRequest("POST", "http://127.0.0.1:9001"+invokePath, nil)
			return r, ""
		}, "MissingAuthenticationTokenException", "Missing Authentication Token"},
		{"16 minutes old", func() (*http.Request, string) {
			return signed(t, "AKIDALICE", "alice-secret", "us-east-1", "lambda", now.Add(-16*time.Minute), `{}`), `{}`
		}, "InvalidSignatureException", "Signature expired: 20261203T114400Z is now earlier than 20261203T114500Z (20261203T120000Z - 15 min.)"},
		{"14 minutes old", func() (*http.Request, string) {
			return signed(t, "AKIDALICE", "alice-secret", "us-east-1", "lambda", now.Add(-14*time.Minute), `{}`), `{}`
		}, "", ""},
		{"16 minutes ahead", func() (*http.Request, string) {
			return signed(t, "AKIDALICE", "alice-secret", "us-east-1", "lambda", now.Add(16*time.Minute), `{}`), `{}`
		}, "InvalidSignatureException", "Signature not yet current: 20261203T121600Z is still later than 20261203T121500Z (20261203T120000Z + 15 min.)"},
		{"another region", func() (*http.Request, string) {
			return signed(t, "AKIDALICE", "alice-secret", "eu-west-1", "lambda", now, `{}`), `{}`
		},
			"InvalidSignatureException", "Credential should be scoped to a valid region. "},
		{"another service", func() (*http.Request, string) {
			return signed(t, "AKIDALICE", "alice-secret", "us-east-1", "sqs", now, `{}`), `{}`
		},
			"InvalidSignatureException", "Credential should be scoped to correct service: 'lambda'. "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, body := tc.req()
			id, err := Verify(r, []byte(body), keys, "us-east-1", "lambda", now)
			if err != nil && err.Status != http.StatusForbidden {
				t.Fatalf("status %d, want 403", err.Status)
			}
			wantVerified(t, id, err, tc.typ, tc.message)
		})
	}
}

// wantVerified checks Verify's answer: alice's key when typ is "", else
// the error of type typ with message (a prefix when it ends in "…").
func wantVerified(t *testing.T, id string, err *Error, typ, message string) {
	t.Helper()
	switch {
	case typ == "" && err != nil:
		t.Fatalf("refused: %v", err)
	case typ == "" && id != "AKIDALICE":
		t.Fatalf("caller %q", id)
	case typ == "":
	case err == nil:
		t.Fatalf("accepted, want %s", typ)
	case err.Type != typ:
		t.Fatalf("%d %s, want %s", err.Status, err.Type, typ)
	default:
		if prefix, ok := strings.CutSuffix(message, "…"); ok {
			if !strings.HasPrefix(err.Message, prefix) {
				t.Errorf("message %q", err.Message)
			}
		} else if err.Message != message {
			t.Errorf("message %q\nwant    %q", err.Message, message)
		}
	}
}

// A request signed by botocore, as the AWS CLI and boto3 sign it, passes;
// with another body it does not.
func TestVerify_Botocore(t *testing.T) {
	script := `
import json, sys
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
req = AWSRequest(method="POST", url=sys.argv[1], data=b'{"x":1}', headers={"Content-Type": "application/json", "X-Amz-Invocation-Type": "RequestResponse"})
SigV4Auth(Credentials("AKIDALICE", "alice-secret"), "lambda", "us-east-1").add_auth(req)
print(json.dumps(dict(req.headers.items())))
`
	out, err := exec.Command("python3", "-c", script, "http://127.0.0.1:9001"+invokePath+"?Qualifier=live").Output()
	if err != nil {
		t.Skipf("botocore: %v", err)
	}
	var headers map[string]string
	if err := json.Unmarshal(out, &headers); err != nil {
		t.Fatal(err)
	}
	r, _ := http.NewRequest("POST", "http://127.0.0.1:9001"+invokePath+"?Qualifier=live", nil)
	for k, v := range headers {
		r.Header.Set(k, v)
	}
	signedAt, _ := time.Parse(timeLayout, r.Header.Get("X-Amz-Date"))
	if _, verr := Verify(r, []byte(`{"x":1}`), keys, "us-east-1", "lambda", signedAt.Add(time.Minute)); verr != nil {
		t.Errorf("botocore's signature refused: %v\n%s", verr, out)
	}
	if _, verr := Verify(r, bytes.Repeat([]byte("x"), 3), keys, "us-east-1", "lambda", signedAt); verr == nil {
		t.Errorf("botocore's signature accepted for another body")
	}
}

// tokened has a key whose session token must come with it.
type tokened struct{}

func (tokened) Secret(id string) (string, string, bool) {
	return "temp-secret", "the-token", id == "ASIATEMP"
}

// Temporary credentials need their session token, signed with them.
func TestVerify_SessionToken(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	sign := func(token string) *http.Request {
		r, _ := http.NewRequest("GET", "http://127.0.0.1:9001/2015-03-31/functions", nil)
		sum := sha256.Sum256(nil)
		if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: "ASIATEMP", SecretAccessKey: "temp-secret", SessionToken: token},
			r, hex.EncodeToString(sum[:]), "lambda", "us-east-1", now); err != nil {
			t.Fatal(err)
		}
		return r
	}
	if _, err := Verify(sign("the-token"), nil, tokened{}, "us-east-1", "lambda", now); err != nil {
		t.Errorf("with its token: %v", err)
	}
	for _, token := range []string{"", "another-token"} {
		if _, err := Verify(sign(token), nil, tokened{}, "us-east-1", "lambda", now); err == nil || err.Type != "UnrecognizedClientException" {
			t.Errorf("with token %q: %v", token, err)
		}
	}
}

// BenchmarkVerify is the cost of checking one signed Invoke request of a
// 100-byte body: the whole of what --auth adds to a request's CPU.
func BenchmarkVerify(b *testing.B) {
	t := &testing.T{}
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	body := strings.Repeat("x", 100)
	r := signed(t, "AKIDALICE", "alice-secret", "us-east-1", "lambda", now, body)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Verify(r, []byte(body), keys, "us-east-1", "lambda", now); err != nil {
			b.Fatal(err)
		}
	}
}

// A key whose secret changes (the principals read again) is checked
// against the new secret only: nothing derived from the old one is kept.
func TestVerify_SecretChanges(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	old, renewed := secrets{"AKIDCAROL": "old-secret"}, secrets{"AKIDCAROL": "new-secret"}
	if _, err := Verify(signed(t, "AKIDCAROL", "old-secret", "us-east-1", "lambda", now, `{}`), []byte(`{}`), old, "us-east-1", "lambda", now); err != nil {
		t.Fatalf("the old secret before the change: %v", err)
	}
	if _, err := Verify(signed(t, "AKIDCAROL", "new-secret", "us-east-1", "lambda", now, `{}`), []byte(`{}`), renewed, "us-east-1", "lambda", now); err != nil {
		t.Errorf("the new secret: %v", err)
	}
	if _, err := Verify(signed(t, "AKIDCAROL", "old-secret", "us-east-1", "lambda", now, `{}`), []byte(`{}`), renewed, "us-east-1", "lambda", now); err == nil {
		t.Errorf("the old secret still works after the change")
	}
}

// presigned is a URL as the AWS SDK for Go presigns it, valid for
// expires seconds (none when 0).
func presigned(t *testing.T, key, secret string, at time.Time, expires int, payloadHash string) *http.Request {
	t.Helper()
	r, _ := http.NewRequest("GET", "http://127.0.0.1:9001/2015-03-31/functions/f?Qualifier=live", nil)
	if expires > 0 {
		r.URL.RawQuery += "&X-Amz-Expires=" + strconv.Itoa(expires)
	}
	u, _, err := v4.NewSigner().PresignHTTP(context.Background(), aws.Credentials{AccessKeyID: key, SecretAccessKey: secret}, r, payloadHash, "lambda", "us-east-1", at)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := http.NewRequest("GET", u, nil)
	return p
}

// A presigned URL is checked as a signed header is, and lasts its
// X-Amz-Expires (15 minutes without one).
func TestVerify_Presigned(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	empty := sha256.Sum256(nil)
	emptyHash := hex.EncodeToString(empty[:])
	for _, tc := range []struct {
		name    string
		req     func() *http.Request
		typ     string
		message string
	}{
		{"presigned", func() *http.Request { return presigned(t, "AKIDALICE", "alice-secret", now, 60, emptyHash) }, "", ""},
		{"unsigned payload", func() *http.Request { return presigned(t, "AKIDALICE", "alice-secret", now, 60, "UNSIGNED-PAYLOAD") }, "", ""},
		{"another payload", func() *http.Request {
			sum := sha256.Sum256([]byte("x"))
			return presigned(t, "AKIDALICE", "alice-secret", now, 60, hex.EncodeToString(sum[:]))
		}, "InvalidSignatureException", "The request signature we calculated…"},
		{"59 s old, valid 60 s", func() *http.Request {
			return presigned(t, "AKIDALICE", "alice-secret", now.Add(-59*time.Second), 60, emptyHash)
		}, "", ""},
		{"expired", func() *http.Request {
			return presigned(t, "AKIDALICE", "alice-secret", now.Add(-61*time.Second), 60, emptyHash)
		}, "InvalidSignatureException", "Signature expired: 20261203T115859Z is now earlier than 20261203T115900Z (20261203T120000Z - 60 sec.)"},
		{"an hour's URL after 59 minutes", func() *http.Request {
			return presigned(t, "AKIDALICE", "alice-secret", now.Add(-59*time.Minute), 3600, emptyHash)
		}, "", ""},
		{"no X-Amz-Expires, 16 minutes old", func() *http.Request {
			return presigned(t, "AKIDALICE", "alice-secret", now.Add(-16*time.Minute), 0, emptyHash)
		}, "InvalidSignatureException", "Signature expired: …"},
		{"query changed", func() *http.Request {
			r := presigned(t, "AKIDALICE", "alice-secret", now, 60, emptyHash)
			r.URL.RawQuery = strings.Replace(r.URL.RawQuery, "Qualifier=live", "Qualifier=other", 1)
			return r
		}, "InvalidSignatureException", "The request signature we calculated…"},
		{"expiry lengthened", func() *http.Request {
			r := presigned(t, "AKIDALICE", "alice-secret", now.Add(-61*time.Second), 60, emptyHash)
			r.URL.RawQuery = strings.Replace(r.URL.RawQuery, "X-Amz-Expires=60", "X-Amz-Expires=600", 1)
			return r
		}, "InvalidSignatureException", "The request signature we calculated…"},
		{"wrong secret", func() *http.Request { return presigned(t, "AKIDALICE", "guess", now, 60, emptyHash) },
			"InvalidSignatureException", "The request signature we calculated…"},
		{"unknown key", func() *http.Request { return presigned(t, "AKIDMALLORY", "x", now, 60, emptyHash) },
			"UnrecognizedClientException", "The security token included in the request is invalid."},
		{"no signature", func() *http.Request {
			r := presigned(t, "AKIDALICE", "alice-secret", now, 60, emptyHash)
			q := r.URL.Query()
			q.Del("X-Amz-Signature")
			r.URL.RawQuery = q.Encode()
			return r
		}, "IncompleteSignatureException", "AWS query-string parameters must include…"},
		{"eight days", func() *http.Request { return presigned(t, "AKIDALICE", "alice-secret", now, 8*24*3600, emptyHash) },
			"IncompleteSignatureException", "X-Amz-Expires must be…"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, err := Verify(tc.req(), nil, keys, "us-east-1", "lambda", now)
			wantVerified(t, id, err, tc.typ, tc.message)
		})
	}
}

// A URL presigned by botocore (boto3's generate_presigned_url) passes.
func TestVerify_BotocorePresigned(t *testing.T) {
	script := `
import sys
from botocore.auth import SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
req = AWSRequest(method="GET", url=sys.argv[1])
SigV4QueryAuth(Credentials("AKIDALICE", "alice-secret"), "lambda", "us-east-1", expires=60).add_auth(req)
print(req.url)
`
	out, err := exec.Command("python3", "-c", script, "http://127.0.0.1:9001/2015-03-31/functions/f?Qualifier=live").Output()
	if err != nil {
		t.Skipf("botocore: %v", err)
	}
	r, _ := http.NewRequest("GET", strings.TrimSpace(string(out)), nil)
	signedAt, _ := time.Parse(timeLayout, r.URL.Query().Get("X-Amz-Date"))
	if _, verr := Verify(r, nil, keys, "us-east-1", "lambda", signedAt.Add(time.Second)); verr != nil {
		t.Errorf("botocore's URL refused: %v\n%s", verr, out)
	}
	if _, verr := Verify(r, nil, keys, "us-east-1", "lambda", signedAt.Add(61*time.Second)); verr == nil || !strings.HasPrefix(verr.Message, "Signature expired") {
		t.Errorf("botocore's URL after 61 s: %v", verr)
	}
}

// BenchmarkGate is the whole of what the Gate adds to a signed Invoke
// request of a 100-byte body: reading the body, parsing and checking the
// signature.
func BenchmarkGate(b *testing.B) {
	t := &testing.T{}
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	body := strings.Repeat("x", 100)
	r := signed(t, "AKIDALICE", "alice-secret", "us-east-1", "lambda", now, body)
	g := &Gate{Next: http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), Secrets: keys, Region: "us-east-1",
		Service: func(*http.Request) string { return "lambda" }, MaxBody: 1 << 20, Now: func() time.Time { return now }}
	w := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		r.Body = io.NopCloser(strings.NewReader(body))
		r.ContentLength = int64(len(body))
		g.ServeHTTP(w, r)
		if w.Code != 200 {
			b.Fatal(w.Code, w.Body)
		}
	}
}

// endless is a request body that never ends, counting what was read.
type endless struct{ read int64 }

func (e *endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'x'
	}
	e.read += int64(len(p))
	return len(p), nil
}

// The Gate bounds a body while it reads it: a body of unknown length that
// never ends is refused with 413 once it has passed MaxBody, and a
// declared length over it before a byte is read.
func TestGate_BodyLimit(t *testing.T) {
	g := &Gate{Next: http.HandlerFunc(func(http.ResponseWriter, *http.Request) { t.Error("passed on") }), Secrets: keys, Region: "us-east-1",
		Service: func(*http.Request) string { return "lambda" }, MaxBody: 1 << 20}
	body := &endless{}
	r := httptest.NewRequest("POST", invokePath, body)
	r.ContentLength = -1
	w := httptest.NewRecorder()
	g.ServeHTTP(w, r)
	if w.Code != http.StatusRequestEntityTooLarge || body.read > g.MaxBody+64<<10 {
		t.Errorf("endless body: %d after reading %d bytes", w.Code, body.read)
	}
	declared := &endless{}
	r = httptest.NewRequest("POST", invokePath, declared)
	r.ContentLength = g.MaxBody + 1
	w = httptest.NewRecorder()
	g.ServeHTTP(w, r)
	if w.Code != http.StatusRequestEntityTooLarge || declared.read != 0 {
		t.Errorf("declared too large: %d after reading %d bytes", w.Code, declared.read)
	}
}
