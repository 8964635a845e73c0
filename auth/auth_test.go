package auth

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lambada-dev/lambada/sigv4"
)

func TestDirectory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "auth.json")
	write := func(s string) {
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(`{"principals":[{"accessKeyId":"AKIAALICE","secretAccessKey":"s1","account":"111111111111","arn":"arn:aws:iam::111111111111:user/alice",
		"policies":[{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"lambda:*","Resource":"*"}]}]}]}`)
	d, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if s, _, ok := d.Secret("AKIAALICE"); !ok || s != "s1" {
		t.Errorf("alice's secret: %q %v", s, ok)
	}
	if p, _ := d.Principal("AKIAALICE"); p == nil || p.Account != "111111111111" || len(p.Policies) != 1 || p.Policies[0].Statement[0].Effect != "Allow" {
		t.Errorf("alice: %+v", p)
	}
	if _, _, ok := d.Secret("AKIABOB"); ok {
		t.Errorf("an unknown key has a secret")
	}
	// A file that does not read keeps the principals as they were.
	for _, bad := range []string{
		`{"principals":[{"accessKeyId":"A","secretAccessKey":"s","account":"12","arn":"x"}]}`,
		`{"principals":[{"accessKeyId":"A","secretAccessKey":"","account":"111111111111","arn":"x"}]}`,
		`{"principals":[{"accessKeyId":"A","secretAccessKey":"s","account":"111111111111","arn":"x"},{"accessKeyId":"A","secretAccessKey":"t","account":"111111111111","arn":"y"}]}`,
		`{"principals":[{"accessKeyId":"A","secretAccessKey":"s","account":"111111111111","arn":"x","policies":[{"Statement":[{"Effect":"Perhaps","Action":"*"}]}]}]}`,
		`not json`,
	} {
		write(bad)
		if err := d.Reload(); err == nil {
			t.Errorf("%s was accepted", bad)
		}
	}
	if _, _, ok := d.Secret("AKIAALICE"); !ok {
		t.Errorf("a bad file dropped the principals")
	}
	write(`{"principals":[{"accessKeyId":"AKIABOB","secretAccessKey":"s2","account":"222222222222","arn":"arn:aws:iam::222222222222:user/bob"}]}`)
	if err := d.Reload(); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := d.Secret("AKIAALICE"); ok || d.Len() != 1 {
		t.Errorf("after a reload alice is still there (%d principals)", d.Len())
	}
	if s, _, ok := d.Secret("AKIABOB"); !ok || s != "s2" {
		t.Errorf("bob after a reload: %q %v", s, ok)
	}
}

// A role of the file gets temporary credentials that name it until they
// expire; its session token must come with them.
func TestDirectory_Issue(t *testing.T) {
	path := filepath.Join(t.TempDir(), "auth.json")
	if err := os.WriteFile(path, []byte(`{"principals":[{"account":"111111111111","arn":"arn:aws:iam::111111111111:role/fn-role",
		"policies":[{"Statement":[{"Effect":"Allow","Action":"lambda:InvokeFunction","Resource":"*"}]}]}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	d, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	d.now = func() time.Time { return now }
	if _, ok := d.Issue("arn:aws:iam::111111111111:role/other", time.Hour); ok {
		t.Errorf("credentials for a role the file does not have")
	}
	c, ok := d.Issue("arn:aws:iam::111111111111:role/fn-role", time.Hour)
	if !ok || !strings.HasPrefix(c.AccessKeyID, "ASIA") || c.SecretAccessKey == "" || c.SessionToken == "" {
		t.Fatalf("issued %+v %v", c, ok)
	}
	if secret, token, ok := d.Secret(c.AccessKeyID); !ok || secret != c.SecretAccessKey || token != c.SessionToken {
		t.Errorf("the issued key: %q %q %v", secret, token, ok)
	}
	if p, ok := d.Principal(c.AccessKeyID); !ok || p.ARN != "arn:aws:iam::111111111111:role/fn-role" {
		t.Errorf("the issued key names %+v", p)
	}
	now = now.Add(time.Hour)
	if _, _, ok := d.Secret(c.AccessKeyID); ok {
		t.Errorf("expired credentials still work")
	}
}

// BenchmarkAuthorize is the cost of deciding one call by its caller's
// identity-based policy, once the signature is checked.
func BenchmarkAuthorize(b *testing.B) {
	path := filepath.Join(b.TempDir(), "auth.json")
	if err := os.WriteFile(path, []byte(`{"principals":[{"accessKeyId":"AKIAALICE","secretAccessKey":"s","account":"111111111111","arn":"arn:aws:iam::111111111111:user/alice",
		"policies":[{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"lambda:InvokeFunction","Resource":"arn:aws:lambda:us-east-1:111111111111:function:f*"}]}]}]}`), 0o600); err != nil {
		b.Fatal(err)
	}
	d, err := Open(path)
	if err != nil {
		b.Fatal(err)
	}
	a := &Authorizer{Directory: d}
	ctx := sigv4.WithCaller(context.Background(), "AKIAALICE")
	b.ReportAllocs()
	for b.Loop() {
		if err := a.Authorize(ctx, "lambda:InvokeFunction", "arn:aws:lambda:us-east-1:111111111111:function:fn", ""); err != nil {
			b.Fatal(err)
		}
	}
}
