package lambada

import (
	"strings"
	"testing"
)

// FuzzPlainName: the regexp-free path of ParseFunctionRef accepts only
// what the pattern accepts, and parses it the same way.
func FuzzPlainName(f *testing.F) {
	for _, s := range []string{"fn", "my-function_1.2", "", "a:b", "arn:aws:lambda:us-east-1:123456789012:function:f",
		"123456789012:function:f", "f:$LATEST", strings.Repeat("a", 256), strings.Repeat("a", 257), "f!", "é", "..", "function:f"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if !plainName(name) {
			return
		}
		m := functionRefRE.FindStringSubmatch(name)
		if m == nil || m[1] != "" || m[2] != "" || m[3] != name || m[4] != "" {
			t.Fatalf("plainName(%q) but the pattern says %q", name, m)
		}
	})
}
