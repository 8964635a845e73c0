package main

import (
	"encoding/base64"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
)

// With --auth a principal signs in to the console with its access key and
// secret; the console then does what that principal's policies allow, and
// nothing without a session.
func TestConsole_Auth(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "auth.json")
	authFileWith(t, path, map[string]string{"AKIAALICE": "a", "AKIACAROL": "c"}, map[string]string{
		"AKIAALICE": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`,
		"AKIACAROL": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"lambda:GetFunction","Resource":"*"}]}`,
	})
	m := MustOpenMain(t, "", func(m *Main) { m.Auth = path })
	zip := writeFile(t, fnZip)
	createAs(t, m, []string{"AWS_ACCESS_KEY_ID=AKIAALICE", "AWS_SECRET_ACCESS_KEY=a"}, "guarded", "provided.al2023", "bootstrap", zip)
	base := "http://" + m.Addr() + "/console/"

	browser := func() *http.Client {
		jar, _ := cookiejar.New(nil)
		return &http.Client{Jar: jar}
	}
	get := func(c *http.Client, url string) (int, string) {
		t.Helper()
		resp, err := c.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Request.URL.Path + "\n" + string(b)
	}
	signIn := func(c *http.Client, key, secret string) (int, string) {
		t.Helper()
		resp, err := c.PostForm(base+"login", url.Values{"access_key_id": {key}, "secret_access_key": {secret}})
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Request.URL.Path + "\n" + string(b)
	}
	invoke := func(c *http.Client, withHeader bool) (int, http.Header, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, base+"api/invoke/guarded", strings.NewReader(`{"action":"print","msg":"signed in"}`))
		if withHeader {
			req.Header.Set("X-Lambada-Console", "1")
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, string(b)
	}

	// No session: the sign-in form, and no API.
	anon := browser()
	if code, page := get(anon, base); code != 200 || !strings.HasPrefix(page, "/console/login\n") || !strings.Contains(page, `name="secret_access_key"`) {
		t.Errorf("without a session: %d %s", code, page)
	}
	if code, _, body := invoke(anon, true); code != 401 {
		t.Errorf("an invocation without a session: %d %s", code, body)
	}
	if code, page := signIn(anon, "AKIAALICE", "guess"); code != 401 || !strings.Contains(page, "The access key or the secret is wrong.") {
		t.Errorf("a wrong secret: %d %s", code, page)
	}

	// Alice sees her functions and invokes them.
	a := browser()
	if code, page := signIn(a, "AKIAALICE", "a"); code != 200 || !strings.HasPrefix(page, "/console/\n") || !strings.Contains(page, "guarded") {
		t.Fatalf("alice signs in: %d %s", code, page)
	}
	if code, page := get(a, base+"functions/guarded"); code != 200 || !strings.Contains(page, "bootstrap") {
		t.Errorf("alice's function page: %d %s", code, page)
	}
	code, header, body := invoke(a, true)
	tail, _ := base64.StdEncoding.DecodeString(header.Get("X-Amz-Log-Result"))
	if code != 200 || !strings.Contains(string(tail), "signed in") {
		t.Errorf("alice invokes: %d %s %s", code, body, tail)
	}
	if code, _, _ := invoke(a, false); code != 403 {
		t.Errorf("an invocation without the console's header (another site's form): %d", code)
	}

	// Carol may read a function but not list them nor invoke.
	c := browser()
	if code, page := signIn(c, "AKIACAROL", "c"); code != 403 || !strings.Contains(page, "is not authorized to perform: lambda:ListFunctions") {
		t.Errorf("carol lists: %d %s", code, page)
	}
	if code, page := get(c, base+"functions/guarded"); code != 200 || !strings.Contains(page, "bootstrap") || strings.Contains(page, `id="chart-`) {
		t.Errorf("carol's view of the function (without its charts: she may not read metrics): %d %s", code, page)
	}
	if code, page := get(a, base+"functions/guarded"); code != 200 || !strings.Contains(page, `id="chart-invocations"`) {
		t.Errorf("alice's view of the function has no charts: %d", code)
	}
	if code, _, body := invoke(c, true); code != 403 || !strings.Contains(body, "lambda:InvokeFunction") {
		t.Errorf("carol invokes: %d %s", code, body)
	}

	// A forged session is none.
	f := browser()
	u, _ := url.Parse(base)
	f.Jar.SetCookies(u, []*http.Cookie{{Name: "lambada_console", Value: base64.RawURLEncoding.EncodeToString([]byte("AKIAALICE|9999999999|forged"))}})
	if code, page := get(f, base); !strings.HasPrefix(page, "/console/login\n") {
		t.Errorf("a forged session: %d %s", code, page)
	}
	// Signing out ends it.
	if resp, err := a.Post(base+"logout", "", nil); err != nil || resp.Request.URL.Path != "/console/login" {
		t.Fatalf("sign out: %v", err)
	}
	if _, page := get(a, base); !strings.HasPrefix(page, "/console/login\n") {
		t.Errorf("after signing out: %s", page)
	}
}
