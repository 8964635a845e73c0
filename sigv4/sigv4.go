// Package sigv4 checks the AWS Signature Version 4 of requests a node
// receives: the signature is computed again, over the bytes received, with
// the AWS SDK for Go's signer and the caller's stored secret, and compared.
// Its errors are AWS's, with their types and texts.
package sigv4

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// signers keep the signing keys they derived (per day, region and
// service) for the next request of the same key. The SDK's signer keys its
// cache by access key id alone, so there is one per access key and secret:
// a secret that changes (a reload of the principals) never meets a key
// derived from the old one.
var signers = struct {
	sync.Mutex
	m map[signerKey]*v4.Signer
}{m: map[signerKey]*v4.Signer{}}

// signerKey is an access key and its secret.
type signerKey struct{ id, secret string }

// maxSigners bounds the signers kept; past it they are all dropped.
const maxSigners = 4096

// signerFor returns the signer of an access key and its secret.
func signerFor(accessKey, secret string) *v4.Signer {
	k := signerKey{accessKey, secret}
	signers.Lock()
	defer signers.Unlock()
	s := signers.m[k]
	if s == nil {
		if len(signers.m) >= maxSigners {
			clear(signers.m)
		}
		s = v4.NewSigner()
		signers.m[k] = s
	}
	return s
}

// MaxSkew is how far a request's signing time may be from the node's
// clock.
const MaxSkew = 15 * time.Minute

// Secrets finds the secret of an access key id, and the session token that
// must come with it ("": none, as for a long-term key).
type Secrets interface {
	Secret(accessKeyID string) (secret, token string, ok bool)
}

// Error is a request's authentication failure, as AWS answers it.
type Error struct {
	Status  int
	Type    string // the x-amzn-ErrorType
	Message string
}

func (e *Error) Error() string { return e.Type + ": " + e.Message }

var (
	errMissing = &Error{http.StatusForbidden, "MissingAuthenticationTokenException", "Missing Authentication Token"}
	errUnknown = &Error{http.StatusForbidden, "UnrecognizedClientException", "The security token included in the request is invalid."}
	errWrong   = &Error{http.StatusForbidden, "InvalidSignatureException", "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."}
)

const (
	algorithm  = "AWS4-HMAC-SHA256"
	timeLayout = "20060102T150405Z"
)

// authorization is a request's signature taken apart: from its
// Authorization header, or from its query (a presigned URL).
type authorization struct {
	accessKey, date, region, service string
	signedHeaders                    []string
	signature                        string
	signedAt                         string // X-Amz-Date
	token                            string // X-Amz-Security-Token
	presigned                        bool
	expires                          time.Duration // a presigned URL's X-Amz-Expires
}

// presignParams are the query parameters of a presigned URL that name it
// so.
var presignParams = []string{"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature"}

// maxExpires is the longest a presigned URL may last.
const maxExpires = 7 * 24 * time.Hour

// parseRequest takes r's signature apart, wherever it is.
func parseRequest(r *http.Request) (authorization, *Error) {
	if h := r.Header.Get("Authorization"); h != "" {
		a, err := parse(h)
		a.signedAt, a.token = r.Header.Get("X-Amz-Date"), r.Header.Get("X-Amz-Security-Token")
		return a, err
	}
	if r.URL.RawQuery != "" {
		q := r.URL.Query()
		for _, p := range presignParams {
			if q.Has(p) {
				return parseQuery(q)
			}
		}
	}
	return authorization{}, errMissing
}

// parse takes an Authorization header apart.
func parse(h string) (authorization, *Error) {
	var a authorization
	rest, ok := strings.CutPrefix(h, algorithm+" ")
	if !ok {
		return a, &Error{http.StatusBadRequest, "IncompleteSignatureException", "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization=" + h}
	}
	var credential, signed string
	for rest != "" {
		var part string
		part, rest, _ = strings.Cut(rest, ",")
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "Credential":
			credential = v
		case "SignedHeaders":
			signed = v
		case "Signature":
			a.signature = v
		}
	}
	if !a.scope(credential) || signed == "" || a.signature == "" {
		return a, &Error{http.StatusBadRequest, "IncompleteSignatureException",
			"Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters. Authorization=" + h}
	}
	a.signedHeaders = strings.Split(signed, ";")
	return a, nil
}

// parseQuery takes a presigned URL's query apart.
func parseQuery(q url.Values) (authorization, *Error) {
	a := authorization{presigned: true, signature: q.Get("X-Amz-Signature"), signedAt: q.Get("X-Amz-Date"), token: q.Get("X-Amz-Security-Token")}
	signed := q.Get("X-Amz-SignedHeaders")
	if q.Get("X-Amz-Algorithm") != algorithm || !a.scope(q.Get("X-Amz-Credential")) || signed == "" || a.signature == "" || a.signedAt == "" {
		return a, &Error{http.StatusBadRequest, "IncompleteSignatureException",
			"AWS query-string parameters must include 'X-Amz-Algorithm', 'X-Amz-Credential', 'X-Amz-Signature', 'X-Amz-Date', 'X-Amz-SignedHeaders'. Re-examine the query-string parameters."}
	}
	a.signedHeaders = strings.Split(signed, ";")
	a.expires = MaxSkew
	if e := q.Get("X-Amz-Expires"); e != "" {
		s, err := strconv.Atoi(e)
		if err != nil || s < 1 || time.Duration(s)*time.Second > maxExpires {
			return a, &Error{http.StatusBadRequest, "IncompleteSignatureException",
				"X-Amz-Expires must be a number of seconds from 1 to 604800 (seven days)."}
		}
		a.expires = time.Duration(s) * time.Second
	}
	return a, nil
}

// scope sets a's key, date, region and service from a credential
// (key/date/region/service/aws4_request), and reports whether it had that
// shape.
func (a *authorization) scope(credential string) bool {
	var scope [5]string
	rest, ok := credential, true
	for i := range scope {
		if !ok {
			return false
		}
		scope[i], rest, ok = strings.Cut(rest, "/")
	}
	if ok || scope[4] != "aws4_request" {
		return false
	}
	a.accessKey, a.date, a.region, a.service = scope[0], scope[1], scope[2], scope[3]
	return true
}

// Verify checks the signature of r, whose body (already read) is body, for
// service in region at time now, and returns the caller's access key id.
func Verify(r *http.Request, body []byte, secrets Secrets, region, service string, now time.Time) (string, *Error) {
	a, err := parseRequest(r)
	if err != nil {
		return "", err
	}
	return verify(r, a, body, secrets, region, service, now)
}

// verify is Verify with r's signature taken apart.
func verify(r *http.Request, a authorization, body []byte, secrets Secrets, region, service string, now time.Time) (string, *Error) {
	secret, token, ok := secrets.Secret(a.accessKey)
	if !ok || a.token != token {
		return "", errUnknown
	}
	signedAt, perr := time.Parse(timeLayout, a.signedAt)
	if perr != nil {
		if a.presigned {
			return "", &Error{http.StatusBadRequest, "IncompleteSignatureException", "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\""}
		}
		return "", &Error{http.StatusBadRequest, "IncompleteSignatureException", "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization=" + r.Header.Get("Authorization")}
	}
	now = now.UTC()
	switch {
	case a.presigned && now.After(signedAt.Add(a.expires)):
		return "", &Error{http.StatusForbidden, "InvalidSignatureException", "Signature expired: " + signedAt.Format(timeLayout) +
			" is now earlier than " + now.Add(-a.expires).Format(timeLayout) + " (" + now.Format(timeLayout) + " - " + strconv.Itoa(int(a.expires/time.Second)) + " sec.)"}
	case !a.presigned && signedAt.Before(now.Add(-MaxSkew)):
		return "", &Error{http.StatusForbidden, "InvalidSignatureException", "Signature expired: " + signedAt.Format(timeLayout) +
			" is now earlier than " + now.Add(-MaxSkew).Format(timeLayout) + " (" + now.Format(timeLayout) + " - 15 min.)"}
	case signedAt.After(now.Add(MaxSkew)):
		return "", &Error{http.StatusForbidden, "InvalidSignatureException", "Signature not yet current: " + signedAt.Format(timeLayout) +
			" is still later than " + now.Add(MaxSkew).Format(timeLayout) + " (" + now.Format(timeLayout) + " + 15 min.)"}
	}
	if a.region != region {
		return "", &Error{http.StatusForbidden, "InvalidSignatureException", "Credential should be scoped to a valid region. "}
	}
	if a.service != service {
		return "", &Error{http.StatusForbidden, "InvalidSignatureException", "Credential should be scoped to correct service: '" + service + "'. "}
	}
	if a.date != signedAt.Format("20060102") {
		return "", &Error{http.StatusForbidden, "InvalidSignatureException", "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '" +
			a.date + "' != '" + signedAt.Format("20060102") + "', from '" + signedAt.Format(timeLayout) + "'."}
	}
	if !signatureMatches(r, body, a, secret, signedAt) {
		return "", errWrong
	}
	return a.accessKey, nil
}

// unsignedPayload stands for the body's hash in a presigned URL's
// signature when the body is not signed.
const unsignedPayload = "UNSIGNED-PAYLOAD"

// signatureMatches reports whether a's signature is the one the SDK's
// signer computes for r with only the headers a names.
func signatureMatches(r *http.Request, body []byte, a authorization, secret string, at time.Time) bool {
	u := *r.URL
	u.Scheme, u.Host = "http", r.Host
	req := &http.Request{Method: r.Method, URL: &u, Host: r.Host, Header: make(http.Header, len(a.signedHeaders))}
	for _, name := range a.signedHeaders {
		switch name {
		case "host":
			continue
		case "content-length":
			req.ContentLength = int64(len(body))
			continue
		}
		if vs := r.Header.Values(name); len(vs) > 0 {
			req.Header[http.CanonicalHeaderKey(name)] = vs
		}
	}
	hash := r.Header.Get("X-Amz-Content-Sha256")
	if hash == "" {
		sum := sha256.Sum256(body)
		hash = hex.EncodeToString(sum[:])
	}
	creds := aws.Credentials{AccessKeyID: a.accessKey, SecretAccessKey: secret, SessionToken: a.token}
	signer := signerFor(a.accessKey, secret)
	if !a.presigned {
		if err := signer.SignHTTP(context.Background(), creds, req, hash, a.service, a.region, at); err != nil {
			return false
		}
		_, sig, _ := strings.Cut(req.Header.Get("Authorization"), "Signature=")
		return hmac.Equal([]byte(sig), []byte(a.signature))
	}
	q := u.Query()
	q.Del("X-Amz-Signature")
	u.RawQuery = q.Encode()
	for _, h := range []string{hash, unsignedPayload} {
		signedURI, _, err := signer.PresignHTTP(context.Background(), creds, req, h, a.service, a.region, at)
		if err != nil {
			return false
		}
		if su, err := url.Parse(signedURI); err == nil && hmac.Equal([]byte(su.Query().Get("X-Amz-Signature")), []byte(a.signature)) {
			return true
		}
	}
	return false
}
