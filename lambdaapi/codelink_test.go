package lambdaapi_test

import (
	"context"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/lambada-dev/lambada/lambdaapi"
)

// Code.Location is a signed link that expires, and serves only code the
// function still uses.
func TestGetFunction_CodeLink(t *testing.T) {
	var mu sync.Mutex
	now := fnNow
	e := newFnEnvWith(t, nil, func(s *lambdaapi.Server) {
		s.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	})
	ctx := context.Background()
	e.MustCreate(t, "a")
	e.MustCreate(t, "b", func(in *lambda.CreateFunctionInput) { in.Code.ZipFile = MustZip(t, "#!/bin/sh\nb") })
	link := func(name string) *url.URL {
		out, err := e.client.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(name)})
		if err != nil {
			t.Fatal(err)
		}
		u, err := url.Parse(aws.ToString(out.Code.Location))
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	get := func(u *url.URL) (int, string, string) {
		return e.do(t, "GET", u.Path+"?"+u.RawQuery, "")
	}
	a, b := link("a"), link("b")
	if status, _, body := get(a); status != 200 || body != string(MustZip(t, "#!/bin/sh\na")) {
		t.Fatalf("a's link: %d, %d bytes", status, len(body))
	}

	tampered := *a
	q := tampered.Query()
	q.Set("expires", "99999999999")
	tampered.RawQuery = q.Encode()
	otherCode := *a
	otherCode.Path = b.Path // b's archive with a's signature
	otherFunction := *a
	q = otherFunction.Query()
	q.Set("function", "b")
	otherFunction.RawQuery = q.Encode()
	for name, u := range map[string]*url.URL{"a later expiry": &tampered, "another archive": &otherCode, "another function": &otherFunction} {
		if status, typ, body := get(u); status != 403 || typ != "AccessDeniedException" || !strings.Contains(body, "The link to this code is not valid") {
			t.Errorf("%s: %d %s %s", name, status, typ, body)
		}
	}

	mu.Lock()
	now = now.Add(10 * time.Minute)
	mu.Unlock()
	if status, typ, body := get(a); status != 403 || typ != "AccessDeniedException" || !strings.Contains(body, "Request has expired") {
		t.Errorf("after 10 minutes: %d %s %s", status, typ, body)
	}

	// New code: the old archive's link no longer serves it; deleted: nothing.
	b = link("b")
	if _, err := e.client.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("b"), ZipFile: MustZip(t, "#!/bin/sh\nb2")}); err != nil {
		t.Fatal(err)
	}
	e.MustSettle(t, "b")
	if status, typ, _ := get(b); status != 404 || typ != "ResourceNotFoundException" {
		t.Errorf("replaced code: %d %s", status, typ)
	}
	a = link("a")
	if _, err := e.client.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String("a")}); err != nil {
		t.Fatal(err)
	}
	if status, typ, _ := get(a); status != 404 || typ != "ResourceNotFoundException" {
		t.Errorf("deleted function: %d %s", status, typ)
	}
}
