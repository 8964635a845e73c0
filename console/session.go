package console

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/lambada-dev/lambada"
	"github.com/lambada-dev/lambada/sigv4"
)

// Keys tells a principal's secret (auth.Directory).
type Keys interface {
	Secret(accessKeyID string) (secret, token string, ok bool)
}

// Authorizer decides what the caller in a context may do (auth.Authorizer).
type Authorizer interface {
	Authorize(ctx context.Context, action, resource, policy string) error
	Account(ctx context.Context) string
}

// sessionCookie holds a signed-in principal's access key id, the session's
// end, and their HMAC under the node's key.
const (
	sessionCookie = "lambada_console"
	sessionLength = 12 * time.Hour
	// apiHeader marks the console's own calls of its API: a form of
	// another site cannot set it.
	apiHeader = "X-Lambada-Console"
)

// session returns the context of a request whose session cookie is good:
// its principal as the caller; false when it has none (with Keys set).
func (s *Server) session(r *http.Request) (context.Context, bool) {
	if s.Keys == nil {
		return r.Context(), true
	}
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return nil, false
	}
	raw, err := base64.RawURLEncoding.DecodeString(c.Value)
	if err != nil {
		return nil, false
	}
	key, until, mac, ok := splitSession(string(raw))
	if !ok || !hmac.Equal(mac, s.mac(key, until)) {
		return nil, false
	}
	end, err := strconv.ParseInt(until, 10, 64)
	if err != nil || s.Now().Unix() > end {
		return nil, false
	}
	if _, _, ok := s.Keys.Secret(key); !ok {
		return nil, false // no longer a principal
	}
	return sigv4.WithCaller(r.Context(), key), true
}

func splitSession(v string) (key, until string, mac []byte, ok bool) {
	parts := strings.SplitN(v, "|", 3)
	if len(parts) != 3 {
		return "", "", nil, false
	}
	return parts[0], parts[1], []byte(parts[2]), true
}

func (s *Server) mac(key, until string) []byte {
	h := hmac.New(sha256.New, s.SessionKey)
	h.Write([]byte(key + "|" + until))
	return []byte(base64.RawURLEncoding.EncodeToString(h.Sum(nil)))
}

// loginPage serves the sign-in form.
func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	s.render(w, "login.html", map[string]any{"Failed": false})
}

// login signs a principal in with its access key id and secret.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	if s.Keys == nil {
		http.Redirect(w, r, Path, http.StatusSeeOther)
		return
	}
	id, secret := r.PostFormValue("access_key_id"), r.PostFormValue("secret_access_key")
	want, token, ok := s.Keys.Secret(id)
	if !ok || token != "" || subtle.ConstantTimeCompare([]byte(want), []byte(secret)) != 1 {
		w.WriteHeader(http.StatusUnauthorized)
		s.render(w, "login.html", map[string]any{"Failed": true})
		return
	}
	until := strconv.FormatInt(s.Now().Add(sessionLength).Unix(), 10)
	value := base64.RawURLEncoding.EncodeToString([]byte(id + "|" + until + "|" + string(s.mac(id, until))))
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: value, Path: Path, HttpOnly: true, SameSite: http.SameSiteStrictMode,
		MaxAge: int(sessionLength / time.Second)})
	http.Redirect(w, r, Path, http.StatusSeeOther)
}

// logout ends the session.
func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: Path, HttpOnly: true, SameSite: http.SameSiteStrictMode, MaxAge: -1})
	http.Redirect(w, r, Path+"login", http.StatusSeeOther)
}

// signedIn serves pages of a session only: others go to the sign-in form.
func (s *Server) signedIn(page func(http.ResponseWriter, *http.Request)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, ok := s.session(r)
		if !ok {
			http.Redirect(w, r, Path+"login", http.StatusSeeOther)
			return
		}
		page(w, r.WithContext(ctx))
	}
}

// allowed reports whether the caller may perform action on resource, and
// answers 403 when not.
func (s *Server) allowed(w http.ResponseWriter, r *http.Request, action, resource string) bool {
	if s.Authorizer == nil {
		return true
	}
	err := s.Authorizer.Authorize(r.Context(), action, resource, "")
	if err == nil {
		return true
	}
	w.WriteHeader(http.StatusForbidden)
	s.render(w, "denied.html", map[string]any{"Message": lambada.ErrorMessage(err)})
	return false
}

// account is the account whose functions the caller sees: the node's own
// ("") without an Authorizer.
func (s *Server) account(ctx context.Context) string {
	if s.Authorizer == nil {
		return ""
	}
	if a := s.Authorizer.Account(ctx); a != s.Account {
		return a
	}
	return ""
}

// forward serves one call of the console's script with the node's API as
// the signed-in principal: an invocation (Lambda's Invoke, with its log
// tail) or a read of logs (CloudWatch Logs' FilterLogEvents). Only the
// console's own script sends apiHeader.
func (s *Server) forward(w http.ResponseWriter, r *http.Request) {
	ctx, ok := s.session(r)
	switch {
	case !ok:
		http.Error(w, "Sign in to the console first.", http.StatusUnauthorized)
		return
	case r.Header.Get(apiHeader) != "1":
		http.Error(w, "Only the console's own pages may call its API.", http.StatusForbidden)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 6<<20+1))
	if err != nil {
		return
	}
	var in *http.Request
	if name := r.PathValue("name"); name != "" {
		in, _ = http.NewRequestWithContext(ctx, http.MethodPost, "/2015-03-31/functions/"+url.PathEscape(name)+"/invocations", bytes.NewReader(body))
		in.Header.Set("X-Amz-Log-Type", "Tail")
		in.Header.Set("Content-Type", "application/json")
	} else {
		in, _ = http.NewRequestWithContext(ctx, http.MethodPost, "/", bytes.NewReader(body))
		in.Header.Set("X-Amz-Target", "Logs_20140328.FilterLogEvents")
		in.Header.Set("Content-Type", "application/x-amz-json-1.1")
	}
	in.RemoteAddr, in.Host = r.RemoteAddr, r.Host
	s.API.ServeHTTP(w, in)
}
