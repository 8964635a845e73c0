package lambada_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/lambada-dev/lambada"
)

func TestValidateAliasName(t *testing.T) {
	const pattern = "1 validation error detected: Value '%s' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)"
	long := strings.Repeat("a", 129)
	tests := []struct{ in, err string }{
		{"live", ""},
		{"2024-01-02", ""},
		{"v1_b-2", ""},
		{strings.Repeat("a", 128), ""},
		{"2024", strings.ReplaceAll(pattern, "%s", "2024")},
		{"0", strings.ReplaceAll(pattern, "%s", "0")},
		{"a.b", strings.ReplaceAll(pattern, "%s", "a.b")},
		{"$LATEST", strings.ReplaceAll(pattern, "%s", "$LATEST")},
		{long, "1 validation error detected: Value '" + long + "' at 'name' failed to satisfy constraint: Member must have length less than or equal to 128"},
		{"", "1 validation error detected: Value '' at 'name' failed to satisfy constraint: Member must have length greater than or equal to 1"},
	}
	for _, tc := range tests {
		var v lambada.Validation
		lambada.ValidateAliasName(&v, tc.in)
		if got := lambada.ErrorMessage(v.Err()); got != tc.err {
			t.Errorf("ValidateAliasName(%q) = %q, want %q", tc.in, got, tc.err)
		}
	}
}

func TestValidateAliasVersion(t *testing.T) {
	for _, ok := range []string{"1", "42", "$LATEST", "$LATEST.PUBLISHED"} {
		var v lambada.Validation
		if lambada.ValidateAliasVersion(&v, ok); v.Err() != nil {
			t.Errorf("%q: %v", ok, v.Err())
		}
	}
	for _, bad := range []string{"live", "$latest", "1.0", ""} {
		var v lambada.Validation
		if lambada.ValidateAliasVersion(&v, bad); lambada.ErrorCode(v.Err()) != lambada.EVALIDATION || !strings.Contains(v.Err().Error(), "'functionVersion'") {
			t.Errorf("%q: %v, want a ValidationException on functionVersion", bad, v.Err())
		}
	}
}

func TestValidateRoutingWeights(t *testing.T) {
	const (
		prefix = "1 validation error detected: Value '"
		member = "' at 'routingConfig.additionalVersionWeights' failed to satisfy constraint: "
		values = "Map value must satisfy constraint: [Member must have value less than or equal to 1.0, Member must have value greater than or equal to 0.0, Member must not be null]"
		keys   = "Map keys must satisfy constraint: [Member must have length less than or equal to 1024, Member must have length greater than or equal to 1, Member must satisfy regular expression pattern: [0-9]+]"
	)
	w := func(f float64) *float64 { return &f }
	tests := []struct {
		name string
		in   map[string]*float64
		err  string
	}{
		{"none", nil, ""},
		{"empty", map[string]*float64{}, ""},
		{"bounds", map[string]*float64{"2": w(0), "3": w(1)}, ""},
		{"too high", map[string]*float64{"2": w(2)}, prefix + "{2=2.0}" + member + values},
		{"below zero", map[string]*float64{"2": w(-1)}, prefix + "{2=-1.0}" + member + values},
		{"fraction", map[string]*float64{"2": w(1.25)}, prefix + "{2=1.25}" + member + values},
		{"tiny", map[string]*float64{"2": w(-1e-5)}, prefix + "{2=-1.0E-5}" + member + values},
		{"huge", map[string]*float64{"2": w(2.5e10)}, prefix + "{2=2.5E10}" + member + values},
		{"null", map[string]*float64{"2": nil}, prefix + "{2=null}" + member + values},
		{"latest key", map[string]*float64{"$LATEST": w(0.5)}, prefix + "{$LATEST=0.5}" + member + keys},
		{"alias key", map[string]*float64{"live": w(0.5), "1": w(0.5)}, prefix + "{1=0.5, live=0.5}" + member + keys},
		{"both", map[string]*float64{"x": w(3)}, "2 validation errors detected: Value '{x=3.0}" + member + keys + "; Value '{x=3.0}" + member + values},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var v lambada.Validation
			lambada.ValidateRoutingWeights(&v, tc.in)
			if got := lambada.ErrorMessage(v.Err()); got != tc.err {
				t.Errorf("got  %q\nwant %q", got, tc.err)
			}
		})
	}
}

func TestCheckRouting(t *testing.T) {
	tests := []struct {
		name    string
		target  string
		weights lambada.Routing
		err     string
	}{
		{"none", "1", nil, ""},
		{"latest without routing", "$LATEST", lambada.Routing{}, ""},
		{"one", "1", lambada.Routing{"2": 0.5}, ""},
		{"two", "1", lambada.Routing{"2": 0.5, "3": 0.1}, "Number of items in AdditionalVersionWeights cannot be greater than 1"},
		{"same version", "1", lambada.Routing{"1": 0.5}, "Invalid function version 1. Function version 1 is already included in routing configuration."},
		{"latest", "$LATEST", lambada.Routing{"1": 0.5}, "$LATEST is not supported for an alias pointing to more than 1 version"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := lambada.CheckRouting(tc.target, tc.weights)
			if got := lambada.ErrorMessage(err); got != tc.err {
				t.Fatalf("got %q, want %q", got, tc.err)
			}
			want := lambada.EINVALID
			if tc.name == "latest" { // AWS sends this one without "Type"
				want = lambada.EINVALIDBARE
			}
			if err != nil && lambada.ErrorCode(err) != want {
				t.Errorf("code %s, want %s", lambada.ErrorCode(err), want)
			}
		})
	}
	if err := lambada.CheckRouting("$LATEST", lambada.Routing{"1": 0.5}); !errors.Is(err, lambada.ErrLatestRouting) {
		t.Errorf("error %v is not ErrLatestRouting", err)
	}
}
