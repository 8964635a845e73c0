package lambada_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/lambada-dev/lambada"
)

func TestVariables_Order(t *testing.T) {
	v := vars(`{"ZED":"1","ALPHA":"<&>","MID":"x","ZED":"2"}`)
	if got, want := v.Keys(), []string{"ZED", "ALPHA", "MID"}; !slices.Equal(got, want) {
		t.Fatalf("keys %v, want %v", got, want)
	}
	// The first place, the last value; no HTML escaping (AWS prints < & >).
	if got, want := v.JSON(), `{"ZED":"2","ALPHA":"<&>","MID":"x"}`; got != want {
		t.Fatalf("JSON %s, want %s", got, want)
	}
	if m := v.Map(); len(m) != 3 || m["ZED"] != "2" {
		t.Fatalf("map %v", m)
	}
	if got := vars(`null`); got.Len() != 0 || got.Map() != nil || got.JSON() != "{}" {
		t.Fatalf("null: %+v", got)
	}
	var bad lambada.Variables
	if err := json.Unmarshal([]byte(`{"A1": 5}`), &bad); err == nil {
		t.Fatal("a number value decoded")
	}
}

func TestCheckEnvironment_RequestOrder(t *testing.T) {
	// Over 4 KB: AWS prints what it measured in the request's order.
	big := strings.Repeat("v", 4090)
	v := vars(`{"ZZ_LAST_SORTED":"a","BIG":"` + big + `","AA":"b"}`)
	err := lambada.CheckEnvironment(*v)
	want := `Lambda was unable to configure your environment variables because the environment variables you have provided exceeded the 4KB limit. String measured: {"ZZ_LAST_SORTED":"a","BIG":"` + big + `","AA":"b"}`
	if lambada.ErrorCode(err) != lambada.EINVALID || lambada.ErrorMessage(err) != want {
		t.Fatalf("err = %v", err)
	}
}
