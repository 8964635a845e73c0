package lambada_test

import (
	"testing"

	"github.com/lambada-dev/lambada"
)

func TestConcurrency_Admit(t *testing.T) {
	c := lambada.NewConcurrency(105)
	five, zero := 5, 0
	c.SetReserved("reserved", &five)
	c.SetReserved("off", &zero)
	if c.Unreserved() != 100 {
		t.Fatalf("unreserved pool %d, want 100", c.Unreserved())
	}
	var slots []lambada.Slot
	for range 5 {
		s, err := c.Admit("reserved", lambada.LatestVersion)
		if err != nil {
			t.Fatal(err)
		}
		slots = append(slots, s)
	}
	if _, err := c.Admit("reserved", lambada.LatestVersion); lambada.ErrorCode(err) != lambada.ETHROTTLED || err.(*lambada.Error).Reason != lambada.ReasonReservedLimit {
		t.Fatalf("sixth reserved: %v", err)
	}
	if _, err := c.Admit("off", lambada.LatestVersion); err == nil || err.(*lambada.Error).Reason != lambada.ReasonReservedLimit || lambada.ErrorMessage(err) != "Rate Exceeded." {
		t.Fatalf("reserved 0: %v", err)
	}
	for range 100 {
		if _, err := c.Admit("shared", lambada.LatestVersion); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Admit("other", lambada.LatestVersion); err == nil || err.(*lambada.Error).Reason != lambada.ReasonConcurrentLimit {
		t.Fatalf("101st unreserved: %v", err)
	}
	c.Release(slots[0])
	if _, err := c.Admit("reserved", lambada.LatestVersion); err != nil {
		t.Fatalf("after a release: %v", err)
	}
	// A reservation taken while executions run counts them from then on.
	c.SetReserved("reserved", nil)
	if c.Unreserved() != 105 {
		t.Fatalf("unreserved pool %d after removing the reservation", c.Unreserved())
	}
}

func TestCheckReservedConcurrency(t *testing.T) {
	const floor = "Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [100]."
	for _, tc := range []struct {
		n, limit, others int
		code, msg        string
	}{
		{5, 105, 0, "", ""},
		{0, 1000, 0, "", ""},
		{900, 1000, 0, "", ""},
		{901, 1000, 0, lambada.EINVALIDBARE, floor},
		{6, 105, 0, lambada.EINVALIDBARE, floor},
		{5, 105, 1, lambada.EINVALIDBARE, floor},
		{2000, 1000, 0, lambada.EINVALIDBARE, floor},
		{-1, 1000, 0, lambada.EVALIDATION, "1 validation error detected: Value '-1' at 'reservedConcurrentExecutions' failed to satisfy constraint: Member must have value greater than or equal to 0"},
	} {
		err := lambada.CheckReservedConcurrency(tc.n, tc.limit, tc.others)
		if lambada.ErrorCode(err) != tc.code || lambada.ErrorMessage(err) != tc.msg {
			t.Errorf("%+v: got %v", tc, err)
		}
	}
}

// A limit lowered under running executions (a cluster's shares, when a
// node joins) leaves the counter over it until enough of them end.
func TestConcurrency_Over(t *testing.T) {
	c := lambada.NewConcurrency(4)
	two := 2
	c.SetReserved("res", &two)
	var slots []lambada.Slot
	for _, f := range []string{"a", "a", "res", "res"} {
		s, err := c.Admit(f, lambada.LatestVersion)
		if err != nil {
			t.Fatal(err)
		}
		slots = append(slots, s)
	}
	if c.Over() {
		t.Fatal("over at its limits")
	}
	c.SetLimit(3) // the pool is now 1, with 2 running in it
	if !c.Over() {
		t.Error("not over with 2 running in a pool of 1")
	}
	c.Release(slots[0])
	if c.Over() {
		t.Error("over with 1 running in a pool of 1")
	}
	one := 1
	c.SetReserved("res", &one)
	if !c.Over() {
		t.Error("not over with 2 running in a reservation of 1")
	}
	c.Release(slots[2])
	if c.Over() {
		t.Error("over with 1 running in a reservation of 1")
	}
}
