package lambada

import (
	"hash/fnv"
	"slices"
	"time"
)

// LeaseUntil returns until when a node holds its lease: while it has
// heard, within hold, from enough of the other nodes that with itself they
// are a majority of the known nodes. heard holds when each other node was
// last heard from; a node alone (known 1) holds it for good. A node cut
// off from most of the cluster loses its lease hold after it last heard
// from enough of them, while the others take its share over only after
// their own, longer, timeout.
func LeaseUntil(heard []time.Time, known int, hold time.Duration) time.Time {
	need := known / 2 // others needed: with this node, more than half of known
	if need == 0 {
		return time.Unix(1<<62, 0)
	}
	if len(heard) < need {
		return time.Time{}
	}
	h := slices.Clone(heard)
	slices.SortFunc(h, func(a, b time.Time) int { return b.Compare(a) }) // most recent first
	return h[need-1].Add(hold)
}

// Members is one node's view of the cluster it belongs to: which nodes are
// alive, and until when this node may admit against its own share. A cluster's
// limits (the account's concurrency, a reservation, a version's
// provisioned concurrency) are split among its live nodes: each admits
// and provisions its share, the shares add up to the limit exactly, and an
// invocation a node has no share left for is offered to the others. A nil
// *Members is a node alone, with all of every limit.
type Members struct {
	Self  string    // this node's name
	Nodes []string  // the live nodes, sorted, Self among them
	Until time.Time // when this node's lease lapses unless it hears the others again
	// Fence is, once the lease lapsed, the earliest the others may take
	// this node's share over: what still runs here must have ended by
	// then (zero: never leased, or alone).
	Fence time.Time
}

// NewMembers returns the view of self with the live nodes nodes (in any
// order) and a lease that holds until until.
func NewMembers(self string, nodes []string, until time.Time) *Members {
	nodes = slices.Clone(nodes)
	slices.Sort(nodes)
	return &Members{Self: self, Nodes: slices.Compact(nodes), Until: until}
}

// Share returns this node's part of total: total split among the live
// nodes so that their parts add up to total, the remainder going one each
// to nodes chosen by salt, so that different limits leave theirs on
// different nodes. A node that is not live has no share; a node alone (nil
// m) has all of total. The share does not depend on the lease: a node
// whose lease lapsed keeps its share (its environments, what it counts
// against) but admits nothing (Leased).
func (m *Members) Share(total int, salt string) int {
	if m == nil {
		return total
	}
	i, ok := slices.BinarySearch(m.Nodes, m.Self)
	if !ok {
		return 0
	}
	n := len(m.Nodes)
	h := fnv.New32a()
	h.Write([]byte(salt))
	rank := (i + int(h.Sum32()%uint32(n))) % n
	share := total / n
	if rank < total%n {
		share++
	}
	return share
}

// Leased reports whether this node's lease holds at now: it may admit
// invocations against its share (a node alone always may).
func (m *Members) Leased(now time.Time) bool {
	return m == nil || now.Before(m.Until)
}

// Others returns the live nodes other than this one.
func (m *Members) Others() []string {
	if m == nil {
		return nil
	}
	out := make([]string, 0, len(m.Nodes))
	for _, n := range m.Nodes {
		if n != m.Self {
			out = append(out, n)
		}
	}
	return out
}

// VersionID names version of the function whose AccountKey is key across
// the cluster: its provisioned concurrency's shares, and its environments'
// counts in a node's heartbeat.
func VersionID(key, version string) string { return key + " " + version }

// RunTarget is what one node asks another to run an invocation of: a
// version of a function as the asking node resolved it.
type RunTarget struct {
	Key       string // the function's AccountKey
	Qualifier string // as invoked: "", a version or an alias
	Version   string // what the qualifier resolved to
	// Generation is the configuration's (FunctionConfig.Generation): a
	// node that knows only an older one does not run it.
	Generation uint64
	Timeout    time.Duration // the function's
}
