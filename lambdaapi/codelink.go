package lambdaapi

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lambada-dev/lambada"
)

// codeLinkTTL is how long a Code.Location works after GetFunction issued
// it, as long as AWS's presigned S3 links.
const codeLinkTTL = 10 * time.Minute

// codeLink is the Code.Location of configuration c of the function name:
// a link to the archive, signed with the server's key, that expires.
func (s *Server) codeLink(r *http.Request, name string, c *lambada.FunctionConfig) string {
	return s.link(r, c.CodeKey(), name)
}

// layerLink is the Content.Location of a layer version: as a codeLink, its
// owner being "layer:<name>:<version>" (no function's name has a colon).
func (s *Server) layerLink(r *http.Request, lv *lambada.LayerVersion) string {
	return s.link(r, lv.CodeKey, "layer:"+lv.Name+":"+strconv.FormatInt(lv.Version, 10))
}

// link is a signed, expiring link to archive key, of owner.
func (s *Server) link(r *http.Request, key, name string) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	host := r.Host
	if host == "" {
		host = "localhost"
	}
	expires := strconv.FormatInt(s.Now().Add(codeLinkTTL).Unix(), 10)
	q := url.Values{"function": {name}, "expires": {expires}, "signature": {s.signCode(key, name, expires)}}
	return scheme + "://" + host + CodePath + key + "?" + q.Encode()
}

// signCode is the signature of a link to archive key of function name,
// valid until expires (Unix seconds).
func (s *Server) signCode(key, name, expires string) string {
	m := hmac.New(sha256.New, s.CodeLinkKey)
	m.Write([]byte(key + "\n" + name + "\n" + expires))
	return hex.EncodeToString(m.Sum(nil))
}

var (
	errNoCode      = lambada.Errorf(lambada.ENOTFOUND, "The resource you requested does not exist.")
	errCodeLink    = &lambada.Error{Code: lambada.EACCESSDENIED, Message: "The link to this code is not valid: use the Code.Location of a GetFunction answer."}
	errCodeExpired = &lambada.Error{Code: lambada.EACCESSDENIED, Message: "Request has expired"}
)

// checkCodeLink returns why a download of archive key may not be served,
// or nil: a signature that is not the server's, an expired link, an
// archive that no configuration of the function named in the link uses any
// more.
func (s *Server) checkCodeLink(r *http.Request, key string) error {
	q := r.URL.Query()
	name, expires, sig := q.Get("function"), q.Get("expires"), q.Get("signature")
	if !hmac.Equal([]byte(sig), []byte(s.signCode(key, name, expires))) {
		return errCodeLink
	}
	until, err := strconv.ParseInt(expires, 10, 64)
	if err != nil || !s.Now().Before(time.Unix(until, 0)) {
		return errCodeExpired
	}
	if layer, ok := strings.CutPrefix(name, "layer:"); ok {
		n, v, _ := strings.Cut(layer, ":")
		version, _ := strconv.ParseInt(v, 10, 64)
		lv, err := s.layerStore().LayerVersion(r.Context(), n, version)
		if lambada.ErrorCode(err) == lambada.ENOTFOUND || (err == nil && lv.CodeKey != key) {
			return errNoCode
		}
		return err
	}
	f, err := s.Functions.Function(r.Context(), s.key(r.Context(), name))
	if lambada.ErrorCode(err) == lambada.ENOTFOUND {
		return errNoCode
	} else if err != nil {
		return err
	}
	if !slices.Contains(f.CodeKeys(), key) {
		return errNoCode
	}
	return nil
}
