package lambdaapi_test

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"
	"github.com/lambada-dev/lambada"
	"github.com/lambada-dev/lambada/deploy"
	"github.com/lambada-dev/lambada/inmem"
	"github.com/lambada-dev/lambada/lambdaapi"
)

const (
	fnRegion  = "us-east-1"
	fnAccount = "123456789012"
	fnRole    = "arn:aws:iam::123456789012:role/lambda-role"
)

// fnNow is the clock of the function tests: LastModified renders as
// 2024-03-01T12:00:00.123+0000.
var fnNow = time.Date(2024, 3, 1, 12, 0, 0, 123e6, time.UTC)

// fnCode is the fake CodeStorer: a map, and the "could not unzip" check of
// the real one reduced to the zip signature.
type fnCode struct {
	mu   sync.Mutex
	zip  map[string][]byte
	gate chan struct{} // while not nil, Path waits for it to close
}

// hold makes Path wait, so that a test sees configurations while they are
// being prepared, until the returned function is called.
func (c *fnCode) hold() (release func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	gate := make(chan struct{})
	c.gate = gate
	return func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.gate = nil
		close(gate)
	}
}

func (c *fnCode) StoreCode(_ context.Context, key string, zip []byte) error {
	if sum := sha256.Sum256(zip); hex.EncodeToString(sum[:]) != key {
		return fmt.Errorf("key %s is not the SHA-256 of the archive", key)
	}
	if !bytes.HasPrefix(zip, []byte("PK\x03\x04")) {
		return lambada.Errorf(lambada.EINVALID, "Could not unzip uploaded file. Please check your file, then try to upload again.")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.zip == nil {
		c.zip = make(map[string][]byte)
	}
	c.zip[key] = bytes.Clone(zip)
	return nil
}

// Opt makes layers ready: the fake has nothing to merge.
func (c *fnCode) Opt(ctx context.Context, keys []string) (string, error) {
	for _, k := range keys {
		if _, err := c.Path(ctx, k); err != nil {
			return "", err
		}
	}
	return "/opt", nil
}

// Path makes the code ready: the fake has nothing to unpack. An archive
// whose one file starts with "broken" does not unpack.
func (c *fnCode) Path(ctx context.Context, key string) (string, error) {
	c.mu.Lock()
	gate := c.gate
	c.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
	archive, err := c.Code(ctx, key)
	if err != nil {
		return "", err
	}
	if zr, err := zip.NewReader(bytes.NewReader(archive), int64(len(archive))); err == nil && len(zr.File) == 1 {
		if rc, err := zr.File[0].Open(); err == nil {
			body, _ := io.ReadAll(rc)
			rc.Close()
			if bytes.HasPrefix(body, []byte("broken")) {
				return "", lambada.Errorf(lambada.EINVALID, "Could not unzip uploaded file. Please check your file, then try to upload again.")
			}
		}
	}
	return "/code/" + key, nil
}

func (c *fnCode) Code(_ context.Context, key string) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if b, ok := c.zip[key]; ok {
		return b, nil
	}
	return nil, lambada.Errorf(lambada.ENOTFOUND, "no code %s", key)
}

// fnEnv is a Lambda API server on 127.0.0.1 and a real SDK client of it.
type fnEnv struct {
	srv      *httptest.Server
	store    *inmem.Store
	code     *fnCode
	preparer *deploy.Preparer
	client   *lambda.Client
}

// newFnEnv starts a server over store (a fresh inmem.Store when nil).
func newFnEnv(t *testing.T, store lambada.FunctionStore) *fnEnv {
	t.Helper()
	return newFnEnvWith(t, store, nil)
}

// newFnEnvWith is newFnEnv with a chance to configure the server.
func newFnEnvWith(t *testing.T, store lambada.FunctionStore, configure func(*lambdaapi.Server)) *fnEnv {
	t.Helper()
	e := &fnEnv{store: &inmem.Store{}, code: &fnCode{}}
	if store == nil {
		store = e.store
	}
	e.preparer = &deploy.Preparer{Functions: store, Code: e.code}
	if err := e.preparer.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.preparer.Close() })
	s := &lambdaapi.Server{
		Functions: store,
		Code:      e.code,
		Preparer:  e.preparer,
		Region:    fnRegion,
		Account:   fnAccount,
		Now:       func() time.Time { return fnNow },
	}
	if configure != nil {
		configure(s)
	}
	e.srv = httptest.NewServer(s.Handler())
	t.Cleanup(e.srv.Close)
	e.client = lambda.New(lambda.Options{
		Region:           fnRegion,
		BaseEndpoint:     aws.String(e.srv.URL),
		Credentials:      credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
		RetryMaxAttempts: 1,
		HTTPClient:       e.srv.Client(),
	})
	return e
}

// MustZip returns a zip archive holding one file, bootstrap, with body.
func MustZip(tb testing.TB, body string) []byte {
	tb.Helper()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	f, err := zw.Create("bootstrap")
	if err == nil {
		_, err = io.WriteString(f, body)
	}
	if err == nil {
		err = zw.Close()
	}
	if err != nil {
		tb.Fatal(err)
	}
	return b.Bytes()
}

// createInput is a valid CreateFunctionInput for name.
func createInput(tb testing.TB, name string) *lambda.CreateFunctionInput {
	return &lambda.CreateFunctionInput{
		FunctionName: aws.String(name),
		Role:         aws.String(fnRole),
		Code:         &types.FunctionCode{ZipFile: MustZip(tb, "#!/bin/sh\n"+name)},
		Runtime:      types.RuntimeProvidedal2023,
		Handler:      aws.String("bootstrap"),
	}
}

// MustCreate creates the function name, changed by the mods.
func (e *fnEnv) MustCreate(tb testing.TB, name string, mods ...func(*lambda.CreateFunctionInput)) *lambda.CreateFunctionOutput {
	tb.Helper()
	in := createInput(tb, name)
	for _, m := range mods {
		m(in)
	}
	out, err := e.client.CreateFunction(context.Background(), in)
	if err != nil {
		tb.Fatalf("CreateFunction %s: %v", name, err)
	}
	e.MustSettle(tb, name)
	return out
}

// MustSettle waits until the function name is no longer being prepared:
// Active after a create, Successful after an update (or Failed).
func (e *fnEnv) MustSettle(tb testing.TB, name string) {
	tb.Helper()
	if err := e.preparer.Wait(tb.Context(), name); err != nil {
		tb.Fatalf("wait for %s: %v", name, err)
	}
}

// wantAPIError checks that err is the AWS error code with message msg (or,
// when msg ends in "…", a message starting with the rest).
func wantAPIError(tb testing.TB, err error, code, msg string) {
	tb.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		tb.Fatalf("error = %v, want %s", err, code)
	}
	got := ae.ErrorMessage()
	if ae.ErrorCode() != code {
		tb.Fatalf("error code = %s (%q), want %s", ae.ErrorCode(), got, code)
	}
	if prefix, ok := strings.CutSuffix(msg, "…"); ok {
		if !strings.HasPrefix(got, prefix) {
			tb.Fatalf("message = %q\nwant prefix %q", got, prefix)
		}
	} else if got != msg {
		tb.Fatalf("message = %q\nwant        %q", got, msg)
	}
}

// do sends a raw request and returns the status, the error type header and
// the body.
func (e *fnEnv) do(tb testing.TB, method, path, body string) (int, string, string) {
	tb.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("X-Amzn-Errortype"), string(b)
}

// arn is the unqualified ARN of the function name.
func arn(name string) string { return lambada.FunctionARN(fnRegion, fnAccount, name, "") }
