package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/lambada-dev/lambada"
	"github.com/lambada-dev/lambada/auth"
	"github.com/lambada-dev/lambada/bench"
	"github.com/lambada-dev/lambada/inmem"
	"github.com/lambada-dev/lambada/lambdaapi"
	"github.com/lambada-dev/lambada/sigv4"
)

// instantInvoker answers every invocation at once.
type instantInvoker struct{}

func (instantInvoker) Invoke(context.Context, lambada.FunctionRef, *lambada.Invocation) (*lambada.Result, error) {
	return &lambada.Result{Payload: []byte(`{}`), ExecutedVersion: lambada.LatestVersion}, nil
}

// BenchmarkAuthOverhead is the CPU --auth adds to a signed Invoke request
// in the node's own handlers (the signature check, the caller's policy,
// the request's account), the invocation itself answered at once: the
// difference between its two sub-benchmarks.
func BenchmarkAuthOverhead(b *testing.B) {
	path := filepath.Join(b.TempDir(), "auth.json")
	if err := os.WriteFile(path, []byte(`{"principals":[{"accessKeyId":"AKIABENCH","secretAccessKey":"s","account":"000000000000","arn":"arn:aws:iam::000000000000:user/bench",
		"policies":[{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"lambda:InvokeFunction","Resource":"arn:aws:lambda:us-east-1:000000000000:function:*"}]}]}]}`), 0o600); err != nil {
		b.Fatal(err)
	}
	dir, err := auth.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	req := func() *http.Request {
		r := httptest.NewRequest(http.MethodPost, "http://127.0.0.1:9001/2015-03-31/functions/fn/invocations", strings.NewReader(string(bench.Body)))
		r.Header.Set("Content-Type", "application/json")
		sum := sha256.Sum256(bench.Body)
		if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: "AKIABENCH", SecretAccessKey: "s"}, r, hex.EncodeToString(sum[:]), "lambda", "us-east-1", now); err != nil {
			b.Fatal(err)
		}
		return r
	}
	for _, on := range []bool{false, true} {
		name := "off"
		s := &lambdaapi.Server{Functions: &inmem.Store{}, Invoker: instantInvoker{}, Region: "us-east-1", Account: "000000000000"}
		if on {
			name, s.Authorizer = "on", &auth.Authorizer{Directory: dir}
		}
		var h http.Handler = s.Handler()
		if on {
			h = &sigv4.Gate{Next: h, Secrets: dir, Region: "us-east-1", Service: func(*http.Request) string { return "lambda" }, MaxBody: maxSignedBody}
		}
		b.Run(name, func(b *testing.B) {
			signed := req()
			b.ReportAllocs()
			for b.Loop() {
				r := signed.Clone(context.Background())
				r.Body = io.NopCloser(bytes.NewReader(bench.Body))
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				if w.Code != 200 {
					b.Fatalf("%d %s", w.Code, w.Body)
				}
			}
		})
	}
}
