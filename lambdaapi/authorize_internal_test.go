package lambdaapi

import (
	"net/http"
	"strings"
	"testing"
)

// Every route but code links names the IAM action it performs: a route
// added without one would be open to any signed caller.
func TestActions_EveryRoute(t *testing.T) {
	s := &Server{}
	var patterns []string
	handle := func(pattern string, _ func(http.ResponseWriter, *http.Request) error) {
		patterns = append(patterns, pattern)
	}
	s.routes(handle)
	if len(patterns) < 40 {
		t.Fatalf("only %d routes registered", len(patterns))
	}
	for _, p := range patterns {
		if strings.Contains(p, CodePath) {
			continue
		}
		if _, ok := actions[p]; !ok {
			t.Errorf("route %q has no IAM action", p)
		}
	}
}
