package lambada_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/lambada-dev/lambada"
)

func TestMembers_Share(t *testing.T) {
	now := time.Unix(1000, 0)
	until := now.Add(time.Second)
	var alone *lambada.Members
	if got := alone.Share(7, "x"); got != 7 {
		t.Errorf("alone: share %d of 7", got)
	}
	for _, tc := range []struct {
		nodes []string
		total int
	}{
		{[]string{"a"}, 5},
		{[]string{"a", "b"}, 5},
		{[]string{"c", "a", "b"}, 100},
		{[]string{"a", "b", "c"}, 1},
		{[]string{"a", "b", "c"}, 0},
		{[]string{"a", "b", "c", "d", "e"}, 13},
	} {
		for _, salt := range []string{"", "fn", "acct:fn 7"} {
			t.Run(fmt.Sprintf("%v/%d/%q", tc.nodes, tc.total, salt), func(t *testing.T) {
				sum, most, least := 0, 0, tc.total
				for _, self := range tc.nodes {
					s := lambada.NewMembers(self, tc.nodes, until).Share(tc.total, salt)
					sum += s
					most, least = max(most, s), min(least, s)
				}
				if sum != tc.total {
					t.Errorf("shares add up to %d, want %d", sum, tc.total)
				}
				if most-least > 1 {
					t.Errorf("shares from %d to %d: not even", least, most)
				}
			})
		}
	}
	m := lambada.NewMembers("a", []string{"b", "a", "c", "b"}, until)
	if !slices.Equal(m.Nodes, []string{"a", "b", "c"}) || !slices.Equal(m.Others(), []string{"b", "c"}) {
		t.Errorf("nodes %v, others %v", m.Nodes, m.Others())
	}
	if !m.Leased(now) || m.Leased(until) || !alone.Leased(until) {
		t.Errorf("leased at now %v, at until %v; alone %v", m.Leased(now), m.Leased(until), alone.Leased(until))
	}
	if got := m.Share(90, ""); got != 30 {
		t.Errorf("a's share of 90 among three is %d", got)
	}
	if got := lambada.NewMembers("z", []string{"a", "b"}, until).Share(90, ""); got != 0 {
		t.Errorf("a node that is not live has a share of %d", got)
	}
	// The remainders of different limits fall on different nodes.
	got := map[string]bool{}
	for i := range 30 {
		for _, self := range []string{"a", "b", "c"} {
			if lambada.NewMembers(self, []string{"a", "b", "c"}, until).Share(1, fmt.Sprint("fn", i)) == 1 {
				got[self] = true
			}
		}
	}
	if len(got) != 3 {
		t.Errorf("30 limits of 1 all fell on %v", got)
	}
}

func TestLeaseUntil(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(s ...int) []time.Time {
		var out []time.Time
		for _, n := range s {
			out = append(out, t0.Add(time.Duration(n)*time.Second))
		}
		return out
	}
	hold := 2 * time.Second
	for _, tc := range []struct {
		name  string
		heard []time.Time
		known int
		want  time.Time
	}{
		{"alone", nil, 1, time.Unix(1<<62, 0)},
		{"two nodes, the other heard", at(5), 2, t0.Add(7 * time.Second)},
		{"two nodes, the other never heard", nil, 2, time.Time{}},
		{"three, both heard: the most recent is enough", at(5, 3), 3, t0.Add(7 * time.Second)},
		{"three, one heard is enough", at(3), 3, t0.Add(5 * time.Second)},
		{"three, none heard", nil, 3, time.Time{}},
		{"five, two others needed", at(9, 1, 4, 6), 5, t0.Add(8 * time.Second)},
		{"five, only one other heard", at(9), 5, time.Time{}},
	} {
		if got := lambada.LeaseUntil(tc.heard, tc.known, hold); !got.Equal(tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
