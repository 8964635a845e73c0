package lambada_test

import (
	"slices"
	"testing"
	"time"

	"github.com/lambada-dev/lambada"
)

func TestFunction_Resolve(t *testing.T) {
	f := &lambada.Function{
		Name:     "fn",
		Latest:   lambada.FunctionConfig{Version: "$LATEST"},
		Versions: []lambada.FunctionConfig{{Version: "1"}, {Version: "3"}},
		Aliases: []lambada.Alias{
			{Name: "blue", FunctionVersion: "1", Routing: lambada.Routing{"3": 0.1}},
			{Name: "dev", FunctionVersion: "$LATEST"},
			{Name: "gone", FunctionVersion: "2"},
		},
	}
	for _, tc := range []struct {
		qualifier string
		pick      float64
		want      string // version, or "" for not found
	}{
		{"", 0, "$LATEST"}, {"$LATEST", 0, "$LATEST"}, {"1", 0, "1"}, {"3", 0, "3"}, {"2", 0, ""},
		{"blue", 0.0999, "3"}, {"blue", 0.1, "1"}, {"blue", 0.5, "1"}, {"dev", 0, "$LATEST"},
		{"gone", 0, ""}, {"nope", 0, ""}, {"$latest", 0, ""},
	} {
		got, err := f.Resolve(tc.qualifier, tc.pick)
		switch {
		case tc.want == "" && lambada.ErrorCode(err) != lambada.ENOTFOUND:
			t.Errorf("%q: got %v, want ENOTFOUND", tc.qualifier, err)
		case tc.want != "" && (err != nil || got.Version != tc.want):
			t.Errorf("%q at %v: got %v, %v; want %s", tc.qualifier, tc.pick, got, err, tc.want)
		}
	}
}

func TestFunction_VersionsAndAliases(t *testing.T) {
	f := &lambada.Function{Versions: []lambada.FunctionConfig{{Version: "1"}, {Version: "2"}}}
	f.PutAlias(lambada.Alias{Name: "b", FunctionVersion: "1"})
	f.PutAlias(lambada.Alias{Name: "a", FunctionVersion: "2", Routing: lambada.Routing{"1": 0.5}})
	f.PutAlias(lambada.Alias{Name: "b", FunctionVersion: "2"})
	if len(f.Aliases) != 2 || f.Aliases[0].Name != "a" || f.Alias("b").FunctionVersion != "2" {
		t.Fatalf("aliases %+v", f.Aliases)
	}
	if got := f.AliasesOf("1"); len(got) != 1 || got[0] != "a" {
		t.Fatalf("aliases of 1: %v", got)
	}
	c := f.Clone()
	c.Aliases[0].Routing["1"] = 0.9
	c.Versions[0].Version = "9"
	if f.Aliases[0].Routing["1"] != 0.5 || f.Versions[0].Version != "1" {
		t.Fatalf("Clone shares state")
	}
	if !f.DeleteAlias("a") || f.DeleteAlias("a") || !f.DeleteVersion("1") || f.Version("1") != nil || f.Version("2") == nil {
		t.Fatalf("delete: %+v", f)
	}
	if !lambada.IsVersionNumber("12") || lambada.IsVersionNumber("") || lambada.IsVersionNumber("1a") || lambada.IsVersionNumber("$LATEST") {
		t.Fatalf("IsVersionNumber")
	}
}

func TestConfigDigest(t *testing.T) {
	a := lambada.FunctionConfig{Runtime: "provided.al2023", CodeSha256: "x", Timeout: 3, Environment: map[string]string{"A": "1"},
		RevisionID: "r1", LastModified: time.Unix(1, 0)}
	b := a.Clone()
	b.RevisionID, b.LastModified, b.Version = "r2", time.Unix(2, 0), "7"
	if a.ConfigDigest() != b.ConfigDigest() {
		t.Fatalf("revision, time and version changed the digest")
	}
	for _, change := range []func(*lambada.FunctionConfig){
		func(c *lambada.FunctionConfig) { c.CodeSha256 = "y" },
		func(c *lambada.FunctionConfig) { c.Timeout = 4 },
		func(c *lambada.FunctionConfig) { c.Environment["A"] = "2" },
		func(c *lambada.FunctionConfig) { c.MemorySize = 256 },
	} {
		c := a.Clone()
		change(&c)
		if c.ConfigDigest() == a.ConfigDigest() {
			t.Errorf("a change left the digest as it was: %+v", c)
		}
	}
}

func TestFunction_CodeKeys(t *testing.T) {
	config := func(version, sha string) lambada.FunctionConfig {
		return lambada.FunctionConfig{Version: version, CodeSha256: sha}
	}
	// base64 of 32 bytes 0x01…, 0x02…, 0x03…
	one, two, three := "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=", "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=", "AwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwM="
	prev := config("$LATEST", two)
	f := &lambada.Function{Name: "f", Latest: config("$LATEST", one), Previous: &prev, Versions: []lambada.FunctionConfig{config("1", three)}}
	want := []string{lambada.CodeKey(one), lambada.CodeKey(two), lambada.CodeKey(three)}
	if got := f.CodeKeys(); !slices.Equal(got, want) {
		t.Fatalf("CodeKeys() = %q, want %q", got, want)
	}
}
