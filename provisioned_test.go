package lambada_test

import (
	"errors"
	"maps"
	"testing"
	"time"

	"github.com/lambada-dev/lambada"
)

// provisionedFunction is a function with versions 1 to 3 and three aliases:
// live (version 1), canary (version 2, 20% to version 3) and dev ($LATEST), provisioned as
// configs say and reserving reserved (nil: no reservation).
func provisionedFunction(reserved *int, configs ...lambada.ProvisionedConfig) *lambada.Function {
	f := &lambada.Function{
		Name:     "fn",
		Latest:   lambada.FunctionConfig{Version: lambada.LatestVersion},
		Versions: []lambada.FunctionConfig{{Version: "1"}, {Version: "2"}, {Version: "3"}},
		Aliases: []lambada.Alias{
			{Name: "canary", FunctionVersion: "2", Routing: lambada.Routing{"3": 0.2}},
			{Name: "dev", FunctionVersion: lambada.LatestVersion},
			{Name: "live", FunctionVersion: "1"},
		},
		ReservedConcurrency: reserved,
	}
	for _, pc := range configs {
		f.PutProvisioned(pc)
	}
	return f
}

// prov is a provisioned concurrency configuration of n on qualifier.
func prov(qualifier string, n int) lambada.ProvisionedConfig {
	return lambada.ProvisionedConfig{Qualifier: qualifier, Requested: n}
}

func TestCheckProvisioned(t *testing.T) {
	const (
		overReserved = "Requested Provisioned Concurrency should not be greater than the reservedConcurrentExecution for function"
		floor        = "Specified ConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [100]."
		aliasOnProv  = "Alias can't be used for Provisioned Concurrency configuration on an already Provisioned version"
		versionOfPC  = "Version is pointed by a Provisioned Concurrency alias"
	)
	greater := func(n string) string {
		return "Specified ConcurrentExecutions for function is greater than account's unreserved concurrency [" + n + "]."
	}
	five := 5
	for _, tc := range []struct {
		name          string
		reserved      *int
		existing      []lambada.ProvisionedConfig
		qualifier     string
		n             int
		limit, others int
		code, msg     string
	}{
		{name: "within the reservation", reserved: &five, existing: []lambada.ProvisionedConfig{prov("1", 3)}, qualifier: "2", n: 2, limit: 1000},
		{name: "over the reservation with another config", reserved: &five, existing: []lambada.ProvisionedConfig{prov("1", 3)}, qualifier: "2", n: 3, limit: 1000,
			code: lambada.EINVALID, msg: overReserved},
		{name: "over the reservation alone", reserved: &five, qualifier: "1", n: 6, limit: 1000, code: lambada.EINVALID, msg: overReserved},
		{name: "replacing the same qualifier under a reservation", reserved: &five, existing: []lambada.ProvisionedConfig{prov("1", 3)}, qualifier: "1", n: 5, limit: 1000},
		{name: "replacing over the reservation", reserved: &five, existing: []lambada.ProvisionedConfig{prov("1", 3)}, qualifier: "1", n: 6, limit: 1000,
			code: lambada.EINVALID, msg: overReserved},
		{name: "a reservation is not checked against the pool", reserved: &five, qualifier: "1", n: 5, limit: 105, others: 100},

		{name: "leaves exactly the minimum", qualifier: "1", n: 5, limit: 105},
		{name: "below the minimum", qualifier: "1", n: 6, limit: 105, code: lambada.EINVALIDBARE, msg: floor},
		{name: "greater than the pool", qualifier: "1", n: 106, limit: 105, code: lambada.EINVALIDBARE, msg: greater("105")},
		{name: "the pool less the others", qualifier: "1", n: 101, limit: 105, others: 5, code: lambada.EINVALIDBARE, msg: greater("100")},
		{name: "others leave no room", qualifier: "1", n: 1, limit: 105, others: 5, code: lambada.EINVALIDBARE, msg: floor},
		{name: "own other configs count", existing: []lambada.ProvisionedConfig{prov("1", 3)}, qualifier: "2", n: 3, limit: 105,
			code: lambada.EINVALIDBARE, msg: floor},
		{name: "own other configs shrink the pool", existing: []lambada.ProvisionedConfig{prov("1", 3)}, qualifier: "2", n: 103, limit: 105,
			code: lambada.EINVALIDBARE, msg: greater("102")},
		{name: "replacing the same qualifier in the pool", existing: []lambada.ProvisionedConfig{prov("1", 3)}, qualifier: "1", n: 5, limit: 105},

		{name: "alias on a provisioned version", existing: []lambada.ProvisionedConfig{prov("1", 1)}, qualifier: "live", n: 1, limit: 1000,
			code: lambada.ECONFLICT, msg: aliasOnProv},
		{name: "alias routing to a provisioned version", existing: []lambada.ProvisionedConfig{prov("3", 1)}, qualifier: "canary", n: 1, limit: 1000,
			code: lambada.ECONFLICT, msg: aliasOnProv},
		{name: "alias on its own provisioned main version", existing: []lambada.ProvisionedConfig{prov("2", 1)}, qualifier: "canary", n: 1, limit: 1000,
			code: lambada.ECONFLICT, msg: aliasOnProv},
		{name: "alias beside an unrelated provisioned version", existing: []lambada.ProvisionedConfig{prov("2", 1)}, qualifier: "live", n: 1, limit: 1000},
		{name: "replacing an alias's own config", existing: []lambada.ProvisionedConfig{prov("live", 1)}, qualifier: "live", n: 2, limit: 1000},
		{name: "version pointed by a provisioned alias", existing: []lambada.ProvisionedConfig{prov("live", 1)}, qualifier: "1", n: 1, limit: 1000,
			code: lambada.ECONFLICT, msg: versionOfPC},
		{name: "version routed to by a provisioned alias", existing: []lambada.ProvisionedConfig{prov("canary", 1)}, qualifier: "3", n: 1, limit: 1000,
			code: lambada.ECONFLICT, msg: versionOfPC},
		{name: "version no provisioned alias points to", existing: []lambada.ProvisionedConfig{prov("live", 1)}, qualifier: "3", n: 1, limit: 1000},
		{name: "alias of $LATEST", qualifier: "dev", n: 1, limit: 1000,
			code: lambada.EINVALID, msg: "Provisioned Concurrency Configs cannot be applied to unpublished function versions."},
		{name: "limits are checked before conflicts", reserved: &five, existing: []lambada.ProvisionedConfig{prov("1", 5)}, qualifier: "live", n: 1, limit: 1000,
			code: lambada.EINVALID, msg: overReserved},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := provisionedFunction(tc.reserved, tc.existing...)
			err := lambada.CheckProvisioned(f, tc.qualifier, tc.n, tc.limit, tc.others)
			if lambada.ErrorCode(err) != tc.code || lambada.ErrorMessage(err) != tc.msg {
				t.Fatalf("got %s %q\nwant %s %q", lambada.ErrorCode(err), lambada.ErrorMessage(err), tc.code, tc.msg)
			}
		})
	}
}

func TestCheckProvisionedFloor(t *testing.T) {
	f := provisionedFunction(nil, prov("1", 2), prov("live", 1))
	for _, tc := range []struct {
		n   int
		msg string
	}{
		{3, ""}, {4, ""},
		{2, " ReservedConcurrentExecutions  2 should not be lower than function's total provisioned concurrency [3]."},
		{0, " ReservedConcurrentExecutions  0 should not be lower than function's total provisioned concurrency [3]."},
	} {
		err := lambada.CheckProvisionedFloor(f, tc.n)
		wantCode := ""
		if tc.msg != "" {
			wantCode = lambada.EINVALIDBARE
		}
		if lambada.ErrorCode(err) != wantCode || lambada.ErrorMessage(err) != tc.msg {
			t.Errorf("reserve %d: got %v, want %q", tc.n, err, tc.msg)
		}
	}
	if err := lambada.CheckProvisionedFloor(provisionedFunction(nil), 0); err != nil {
		t.Errorf("nothing provisioned: %v", err)
	}
}

func TestFunction_ProvisionedShares(t *testing.T) {
	f := provisionedFunction(nil)
	f.PutAlias(lambada.Alias{Name: "half", FunctionVersion: "1", Routing: lambada.Routing{"2": 0.5}})
	f.PutAlias(lambada.Alias{Name: "third", FunctionVersion: "1", Routing: lambada.Routing{"2": 0.3}})
	f.PutAlias(lambada.Alias{Name: "all", FunctionVersion: "1", Routing: lambada.Routing{"2": 1}})
	f.PutAlias(lambada.Alias{Name: "toGone", FunctionVersion: "1", Routing: lambada.Routing{"9": 0.5}})
	f.PutAlias(lambada.Alias{Name: "onGone", FunctionVersion: "9"})
	for _, tc := range []struct {
		qualifier string
		n         int
		want      map[string]int // nil: no share at all
	}{
		{"1", 4, map[string]int{"1": 4}},
		{"3", 1, map[string]int{"3": 1}},
		{"live", 3, map[string]int{"1": 3}},
		{"canary", 10, map[string]int{"2": 8, "3": 2}},
		{"half", 4, map[string]int{"1": 2, "2": 2}},
		{"half", 5, map[string]int{"1": 2, "2": 3}}, // 2.5 rounds half away from zero
		{"third", 10, map[string]int{"1": 7, "2": 3}},
		{"third", 5, map[string]int{"1": 3, "2": 2}}, // 1.5 rounds to 2
		{"third", 1, map[string]int{"1": 1}},         // 0.3 rounds to 0: nothing on version 2
		{"all", 3, map[string]int{"2": 3}},
		{"toGone", 4, map[string]int{"1": 4}},
		{"onGone", 4, map[string]int{}}, // nil or empty
		{"dev", 4, map[string]int{}},
		{"7", 1, nil},
		{"nope", 1, nil},
	} {
		got := f.ProvisionedShares(tc.qualifier, tc.n)
		if (tc.want == nil && got != nil) || !maps.Equal(got, tc.want) {
			t.Errorf("%s × %d: got %v, want %v", tc.qualifier, tc.n, got, tc.want)
		}
	}
}

func TestFunction_ProvisionedVersions(t *testing.T) {
	if got := provisionedFunction(nil).ProvisionedVersions(); got != nil {
		t.Fatalf("nothing provisioned: %v", got)
	}
	f := provisionedFunction(nil, prov("canary", 10), prov("3", 1))
	f.PutAlias(lambada.Alias{Name: "blue", FunctionVersion: "1"})
	f.PutProvisioned(prov("blue", 2))
	f.PutProvisioned(prov("live", 3))
	want := map[string]int{"1": 5, "2": 8, "3": 3}
	if got := f.ProvisionedVersions(); !maps.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestFunction_ProvisionedAllocation(t *testing.T) {
	f := provisionedFunction(nil)
	f.PutAlias(lambada.Alias{Name: "blue", FunctionVersion: "1"})
	// Sorted by qualifier: 3, blue (version 1), canary (8 on 2, 2 on 3), live (version 1).
	for _, pc := range []lambada.ProvisionedConfig{prov("live", 3), prov("canary", 10), prov("blue", 2), prov("3", 1)} {
		f.PutProvisioned(pc)
	}
	for _, tc := range []struct {
		name  string
		ready map[string]int
		want  map[string]int
	}{
		{"none ready", map[string]int{}, map[string]int{"3": 0, "blue": 0, "canary": 0, "live": 0}},
		{"no map of ready environments", nil, map[string]int{"3": 0, "blue": 0, "canary": 0, "live": 0}},
		{"all ready", map[string]int{"1": 5, "2": 8, "3": 3}, map[string]int{"3": 1, "blue": 2, "canary": 10, "live": 3}},
		{"first in qualifier order served first", map[string]int{"1": 4, "2": 5, "3": 2}, map[string]int{"3": 1, "blue": 2, "canary": 6, "live": 2}},
		{"one version short", map[string]int{"1": 1}, map[string]int{"3": 0, "blue": 1, "canary": 0, "live": 0}},
		{"more than requested", map[string]int{"1": 9, "2": 9, "3": 9}, map[string]int{"3": 1, "blue": 2, "canary": 10, "live": 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ready := maps.Clone(tc.ready)
			got, panicked := allocation(f, tc.ready)
			if panicked != nil {
				t.Fatalf("ProvisionedAllocation(%v) panicked: %v", tc.ready, panicked)
			}
			for q, n := range tc.want { // a configuration with nothing may be absent
				if got[q] != n {
					t.Fatalf("got %v, want %v", got, tc.want)
				}
			}
			if len(got) > len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			if !maps.Equal(ready, tc.ready) {
				t.Fatalf("ProvisionedAllocation changed its argument: %v", tc.ready)
			}
		})
	}
}

// allocation is f.ProvisionedAllocation(ready), and what it panicked with.
func allocation(f *lambada.Function, ready map[string]int) (got map[string]int, panicked any) {
	defer func() { panicked = recover() }()
	return f.ProvisionedAllocation(ready), nil
}

func TestProvisionedStatus(t *testing.T) {
	for _, tc := range []struct {
		requested, allocated int
		failure, want        string
	}{
		{3, 0, "", lambada.ProvisionedInProgress},
		{3, 2, "", lambada.ProvisionedInProgress},
		{3, 3, "", lambada.ProvisionedReady},
		{3, 4, "", lambada.ProvisionedReady},
		{3, 2, "FUNCTION_ERROR_INIT_FAILURE", lambada.ProvisionedFailed},
		{3, 0, "FUNCTION_ERROR_INIT_FAILURE", lambada.ProvisionedFailed},
		{3, 3, "FUNCTION_ERROR_INIT_FAILURE", lambada.ProvisionedReady},
	} {
		if got := lambada.ProvisionedStatus(tc.requested, tc.allocated, tc.failure); got != tc.want {
			t.Errorf("%+v: got %s", tc, got)
		}
	}
	if lambada.ProvisionedInProgress != "IN_PROGRESS" || lambada.ProvisionedReady != "READY" || lambada.ProvisionedFailed != "FAILED" {
		t.Errorf("statuses are not AWS's")
	}
}

func TestFunction_HeldConcurrency(t *testing.T) {
	zero, ten := 0, 10
	for _, tc := range []struct {
		name string
		f    *lambada.Function
		want int
	}{
		{"nothing", provisionedFunction(nil), 0},
		{"provisioned only", provisionedFunction(nil, prov("1", 3), prov("live", 2)), 5},
		{"reservation includes provisioned", provisionedFunction(&ten, prov("1", 3), prov("live", 2)), 10},
		{"reservation of zero", provisionedFunction(&zero), 0},
	} {
		if got := tc.f.HeldConcurrency(); got != tc.want {
			t.Errorf("%s: got %d, want %d", tc.name, got, tc.want)
		}
	}
}

func TestFunction_PutProvisioned(t *testing.T) {
	f := provisionedFunction(nil)
	at := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	f.PutProvisioned(lambada.ProvisionedConfig{Qualifier: "live", Requested: 1, LastModified: at})
	f.PutProvisioned(prov("2", 4))
	f.PutProvisioned(prov("canary", 2))
	f.PutProvisioned(lambada.ProvisionedConfig{Qualifier: "live", Requested: 3, LastModified: at.Add(time.Hour)})
	var order []string
	for _, pc := range f.Provisioned {
		order = append(order, pc.Qualifier)
	}
	if len(order) != 3 || order[0] != "2" || order[1] != "canary" || order[2] != "live" {
		t.Fatalf("not sorted or not replaced: %v", order)
	}
	if pc := f.ProvisionedConfig("live"); pc == nil || pc.Requested != 3 || !pc.LastModified.Equal(at.Add(time.Hour)) {
		t.Fatalf("live: %+v", pc)
	}
	if f.ProvisionedTotal() != 9 || f.ProvisionedConfig("1") != nil {
		t.Fatalf("total %d", f.ProvisionedTotal())
	}
	if !f.DeleteProvisioned("canary") || f.DeleteProvisioned("canary") || f.ProvisionedConfig("canary") != nil || f.ProvisionedTotal() != 7 {
		t.Fatalf("delete: %+v", f.Provisioned)
	}
}

func TestFunction_CloneProvisioned(t *testing.T) {
	f := provisionedFunction(nil, prov("1", 2), prov("live", 3))
	c := f.Clone()
	c.Provisioned[0].Requested = 9
	c.PutProvisioned(prov("2", 1))
	c.DeleteProvisioned("live")
	if f.ProvisionedConfig("1").Requested != 2 || f.ProvisionedConfig("live") == nil || f.ProvisionedConfig("2") != nil || len(f.Provisioned) != 2 {
		t.Fatalf("Clone shares Provisioned: %+v", f.Provisioned)
	}
	if c := provisionedFunction(nil).Clone(); len(c.Provisioned) != 0 {
		t.Fatalf("clone of nothing provisioned: %+v", c.Provisioned)
	}
}

// MustAdmit admits one execution of version of function.
func MustAdmit(tb testing.TB, c *lambada.Concurrency, function, version string) lambada.Slot {
	tb.Helper()
	s, err := c.Admit(function, version)
	if err != nil {
		tb.Fatalf("admit %s:%s: %v", function, version, err)
	}
	return s
}

// wantThrottled checks that admitting one more execution of version of
// function is refused for reason.
func wantThrottled(tb testing.TB, c *lambada.Concurrency, function, version, reason string) {
	tb.Helper()
	_, err := c.Admit(function, version)
	var e *lambada.Error
	if !errors.As(err, &e) || e.Code != lambada.ETHROTTLED || e.Reason != reason || e.Message != "Rate Exceeded." {
		tb.Fatalf("admit %s:%s: got %v, want throttled for %s", function, version, err, reason)
	}
}

func TestConcurrency_Provisioned(t *testing.T) {
	c := lambada.NewConcurrency(105)
	c.SetProvisioned("p", map[string]int{"1": 3, "2": 2})
	if c.Unreserved() != 100 {
		t.Fatalf("unreserved pool %d, want 100", c.Unreserved())
	}

	// Version 1's provisioned slots are outside the pool.
	var prov []lambada.Slot
	for range 3 {
		s := MustAdmit(t, c, "p", "1")
		if !s.Provisioned || s.Unreserved || s.Version != "1" || s.Function != "p" {
			t.Fatalf("provisioned slot: %+v", s)
		}
		prov = append(prov, s)
	}
	// Beyond them it spills over into the pool.
	spill := MustAdmit(t, c, "p", "1")
	if spill.Provisioned || !spill.Unreserved {
		t.Fatalf("spilled slot: %+v", spill)
	}
	// Another version of the same function does not take version 1's
	// provisioned slots: version 3 has none and goes to the pool.
	if s := MustAdmit(t, c, "p", "3"); s.Provisioned || !s.Unreserved {
		t.Fatalf("version 3: %+v", s)
	}
	if c.Running("p") != 5 {
		t.Fatalf("running %d, want 5", c.Running("p"))
	}
	// Fill the pool: 2 are taken by p already.
	var pool []lambada.Slot
	for range 98 {
		pool = append(pool, MustAdmit(t, c, "shared", lambada.LatestVersion))
	}
	wantThrottled(t, c, "shared", lambada.LatestVersion, lambada.ReasonConcurrentLimit)
	wantThrottled(t, c, "p", "1", lambada.ReasonConcurrentLimit)
	wantThrottled(t, c, "p", "3", lambada.ReasonConcurrentLimit)
	// Version 2's provisioned slots are still free while the pool is full.
	v2a, v2b := MustAdmit(t, c, "p", "2"), MustAdmit(t, c, "p", "2")
	if !v2a.Provisioned || !v2b.Provisioned || v2a.Version != "2" {
		t.Fatalf("version 2: %+v %+v", v2a, v2b)
	}
	wantThrottled(t, c, "p", "2", lambada.ReasonConcurrentLimit)

	// Release gives back the kind of slot it took: a provisioned slot frees
	// version 1's, not the pool.
	c.Release(prov[0])
	wantThrottled(t, c, "shared", lambada.LatestVersion, lambada.ReasonConcurrentLimit)
	wantThrottled(t, c, "p", "2", lambada.ReasonConcurrentLimit)
	if s := MustAdmit(t, c, "p", "1"); !s.Provisioned {
		t.Fatalf("after releasing a provisioned slot: %+v", s)
	}
	// A pool slot frees the pool, for anyone.
	c.Release(pool[0])
	if s := MustAdmit(t, c, "other", lambada.LatestVersion); !s.Unreserved {
		t.Fatalf("after releasing a pool slot: %+v", s)
	}
	wantThrottled(t, c, "p", "1", lambada.ReasonConcurrentLimit)
	c.Release(spill)
	if s := MustAdmit(t, c, "p", "1"); s.Provisioned || !s.Unreserved {
		t.Fatalf("after releasing p's pool slot: %+v", s)
	}
	if c.Running("p") != 7 {
		t.Fatalf("running %d, want 7", c.Running("p"))
	}

	// Unreserved shrinks and grows with what functions hold.
	c.SetProvisioned("q", map[string]int{"4": 4})
	if c.Unreserved() != 96 {
		t.Fatalf("unreserved pool %d, want 96", c.Unreserved())
	}
	c.SetProvisioned("q", nil)
	c.SetProvisioned("p", map[string]int{"1": 3})
	if c.Unreserved() != 102 {
		t.Fatalf("unreserved pool %d, want 102", c.Unreserved())
	}
	c.SetProvisioned("p", nil)
	if c.Unreserved() != 105 {
		t.Fatalf("unreserved pool %d, want 105", c.Unreserved())
	}
}

func TestConcurrency_ProvisionedReleaseAll(t *testing.T) {
	c := lambada.NewConcurrency(102)
	c.SetProvisioned("p", map[string]int{"1": 2})
	var slots []lambada.Slot
	for range 2 {
		slots = append(slots, MustAdmit(t, c, "p", "1"))
	}
	for range 100 {
		slots = append(slots, MustAdmit(t, c, "p", "1"))
	}
	wantThrottled(t, c, "p", "1", lambada.ReasonConcurrentLimit)
	for _, s := range slots {
		c.Release(s)
	}
	if c.Running("p") != 0 {
		t.Fatalf("running %d after releasing everything", c.Running("p"))
	}
	// Everything is free again, of both kinds.
	for range 2 {
		if s := MustAdmit(t, c, "p", "1"); !s.Provisioned {
			t.Fatalf("provisioned slot not given back: %+v", s)
		}
	}
	for range 100 {
		MustAdmit(t, c, "p", "1")
	}
	wantThrottled(t, c, "p", "1", lambada.ReasonConcurrentLimit)
}

func TestConcurrency_ReservedAndProvisioned(t *testing.T) {
	c := lambada.NewConcurrency(110)
	c.SetProvisioned("r", map[string]int{"1": 3})
	if c.Unreserved() != 107 {
		t.Fatalf("unreserved pool %d, want 107", c.Unreserved())
	}
	five := 5
	c.SetReserved("r", &five)
	// The reservation includes the provisioned concurrency: it is held once.
	if c.Unreserved() != 105 {
		t.Fatalf("unreserved pool %d, want 105", c.Unreserved())
	}
	// The reservation caps every version together, provisioned or not.
	var slots []lambada.Slot
	for _, v := range []string{"1", "1", "1", "1", "2"} {
		s := MustAdmit(t, c, "r", v)
		if s.Unreserved {
			t.Fatalf("a reserved function took a pool slot: %+v", s)
		}
		slots = append(slots, s)
	}
	wantThrottled(t, c, "r", "1", lambada.ReasonReservedLimit)
	wantThrottled(t, c, "r", "2", lambada.ReasonReservedLimit)
	// The pool is untouched.
	for range 105 {
		MustAdmit(t, c, "shared", lambada.LatestVersion)
	}
	wantThrottled(t, c, "shared", lambada.LatestVersion, lambada.ReasonConcurrentLimit)
	c.Release(slots[4])
	MustAdmit(t, c, "r", "1")
	wantThrottled(t, c, "r", "2", lambada.ReasonReservedLimit)

	// Without the reservation the function holds its provisioned
	// concurrency again.
	c.SetReserved("r", nil)
	if c.Unreserved() != 107 {
		t.Fatalf("unreserved pool %d after removing the reservation, want 107", c.Unreserved())
	}
}

func TestConcurrency_ProvisionedFillsReservation(t *testing.T) {
	c := lambada.NewConcurrency(1000)
	two := 2
	c.SetReserved("r", &two)
	c.SetProvisioned("r", map[string]int{"1": 2})
	// Nothing is left on demand: $LATEST and unprovisioned versions are
	// throttled even though nothing runs.
	wantThrottled(t, c, "r", lambada.LatestVersion, lambada.ReasonReservedLimit)
	wantThrottled(t, c, "r", "2", lambada.ReasonReservedLimit)
	a := MustAdmit(t, c, "r", "1")
	MustAdmit(t, c, "r", "1")
	if !a.Provisioned {
		t.Fatalf("version 1 did not take a provisioned slot: %+v", a)
	}
	wantThrottled(t, c, "r", "1", lambada.ReasonReservedLimit)

	// A reservation above the provisioned total leaves the difference on
	// demand, to every version (spill-over included).
	three := 3
	c.SetReserved("r", &three)
	s := MustAdmit(t, c, "r", lambada.LatestVersion)
	if !s.OnDemand {
		t.Fatalf("$LATEST did not take an on-demand slot: %+v", s)
	}
	wantThrottled(t, c, "r", "1", lambada.ReasonReservedLimit)
	c.Release(s)
	MustAdmit(t, c, "r", "1")
	wantThrottled(t, c, "r", lambada.LatestVersion, lambada.ReasonReservedLimit)
	c.Release(a)
	wantThrottled(t, c, "r", lambada.LatestVersion, lambada.ReasonReservedLimit)
	MustAdmit(t, c, "r", "1")
	if got := c.Running("r"); got != 3 {
		t.Fatalf("running %d, want 3", got)
	}
}
