package auth

import (
	"os"
	"path/filepath"
	"testing"
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
	if s, ok := d.Secret("AKIAALICE"); !ok || s != "s1" {
		t.Errorf("alice's secret: %q %v", s, ok)
	}
	if p, _ := d.Principal("AKIAALICE"); p == nil || p.Account != "111111111111" || len(p.Policies) != 1 || p.Policies[0].Statement[0].Effect != "Allow" {
		t.Errorf("alice: %+v", p)
	}
	if _, ok := d.Secret("AKIABOB"); ok {
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
	if _, ok := d.Secret("AKIAALICE"); !ok {
		t.Errorf("a bad file dropped the principals")
	}
	write(`{"principals":[{"accessKeyId":"AKIABOB","secretAccessKey":"s2","account":"222222222222","arn":"arn:aws:iam::222222222222:user/bob"}]}`)
	if err := d.Reload(); err != nil {
		t.Fatal(err)
	}
	if _, ok := d.Secret("AKIAALICE"); ok || d.Len() != 1 {
		t.Errorf("after a reload alice is still there (%d principals)", d.Len())
	}
	if s, ok := d.Secret("AKIABOB"); !ok || s != "s2" {
		t.Errorf("bob after a reload: %q %v", s, ok)
	}
}
