package sigv4

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// FuzzVerify checks requests whose Authorization header, X-Amz-Date,
// query and body are arbitrary: each is refused with one of AWS's errors
// (400 or 403), or accepted only when its signature is the one the secret
// makes, never a panic.
func FuzzVerify(f *testing.F) {
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	t := &testing.T{}
	good := signed(t, "AKIDALICE", "alice-secret", "us-east-1", "lambda", now, `{}`)
	f.Add(good.Header.Get("Authorization"), good.Header.Get("X-Amz-Date"), good.URL.RawQuery, []byte(`{}`))
	f.Add(good.Header.Get("Authorization"), good.Header.Get("X-Amz-Date"), good.URL.RawQuery, []byte(`{"a":1}`))
	pre := presigned(t, "AKIDALICE", "alice-secret", now, 60, "UNSIGNED-PAYLOAD")
	f.Add("", "", pre.URL.RawQuery, []byte(nil))
	f.Add("", "", strings.Replace(pre.URL.RawQuery, "X-Amz-Expires=60", "X-Amz-Expires=-1", 1), []byte(nil))
	f.Add("AWS4-HMAC-SHA256 Credential=AKIDALICE/x/y/z/aws4_request, SignedHeaders=;;, Signature=", "20261203T120000Z", "X-Amz-Signature=%", []byte("x"))
	f.Add("AWS4-HMAC-SHA256 ,,,=,=", "2026", "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=////", []byte(nil))
	errorTypes := map[string]bool{"MissingAuthenticationTokenException": true, "UnrecognizedClientException": true,
		"InvalidSignatureException": true, "IncompleteSignatureException": true}
	f.Fuzz(func(t *testing.T, authorization, date, query string, body []byte) {
		r, err := http.NewRequest("POST", "http://127.0.0.1:9001"+invokePath, nil)
		if err != nil {
			t.Skip()
		}
		r.URL.RawQuery = query
		r.Header = good.Header.Clone()
		r.Header.Set("Authorization", authorization)
		r.Header.Set("X-Amz-Date", date)
		id, verr := Verify(r, body, keys, "us-east-1", "lambda", now)
		switch {
		case verr == nil && id != "AKIDALICE":
			t.Fatalf("accepted for %q", id)
		case verr == nil:
			if strings.Contains(authorization, good.Header.Get("Authorization")[len(good.Header.Get("Authorization"))-64:]) ||
				strings.Contains(query, pre.URL.Query().Get("X-Amz-Signature")) {
				return // a signature made with the secret, taken from a seed
			}
			t.Fatalf("accepted a signature not made with the secret: %q %q", authorization, query)
		case !errorTypes[verr.Type] || verr.Status != http.StatusBadRequest && verr.Status != http.StatusForbidden || verr.Message == "":
			t.Fatalf("%d %s %q", verr.Status, verr.Type, verr.Message)
		}
	})
}
