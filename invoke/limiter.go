package invoke

import (
	"sync"
	"time"

	"github.com/lambada-dev/lambada"
)

// Limiter admits synchronous invocations against each account's
// concurrency limit and the functions' reservations, exactly, under any
// interleaving. Every account (the node's own, "", and the others its
// principals create functions in) has a limit of its own. In a cluster it
// admits this node's share of each limit (lambada.Members): none while the
// node's lease has lapsed, though it still counts against its share, so
// that Over tells the others whether it runs within it. It is safe for
// concurrent use.
type Limiter struct {
	mu       sync.Mutex
	limit    int
	accounts map[string]*lambada.Concurrency // by account, "" the node's own
	members  *lambada.Members                // nil: alone
	leased   *lambada.Members                // the last view under which this node held its lease
	// functions holds each function's whole limits, by account and name,
	// so that a new view shares them out again at once.
	functions map[string]map[string]functionLimits
}

// functionLimits are a function's whole limits, before the cluster's
// shares.
type functionLimits struct {
	key      string // its AccountKey
	reserved *int
	versions map[string]int // provisioned, by version
}

// NewLimiter admits up to limit executions at once in each account.
func NewLimiter(limit int) *Limiter {
	return &Limiter{limit: limit, accounts: map[string]*lambada.Concurrency{"": lambada.NewConcurrency(limit)},
		functions: map[string]map[string]functionLimits{}}
}

// SetMembers makes the limiter admit this node's share of every limit
// among m's live nodes (nil: all of it), the functions' too, at once.
func (l *Limiter) SetMembers(m *lambada.Members) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.members = m
	if m.Leased(time.Now()) {
		l.leased = m
	}
	for account, c := range l.accounts {
		c.SetLimit(m.Share(l.limit, account))
		for name, fl := range l.functions[account] {
			l.shareLocked(c, name, fl)
		}
	}
}

// Share returns how many of a limit of n named by salt (a provisioned
// version's lambada.VersionID) this node keeps environments for: its share
// under the last view it held its lease under, so that a node cut off
// keeps what it had rather than start everything (its view is itself
// alone), and a node not yet counted by the others starts nothing.
func (l *Limiter) Share(n int, salt string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.members == nil {
		return n
	}
	if l.leased == nil {
		return 0
	}
	return l.leased.Share(n, salt)
}

// Over reports whether any account runs more executions than this node's
// share of its limits now (Concurrency.Over).
func (l *Limiter) Over() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range l.accounts {
		if c.Over() {
			return true
		}
	}
	return false
}

// account is the counter of account; l.mu is held.
func (l *Limiter) account(account string) *lambada.Concurrency {
	c := l.accounts[account]
	if c == nil {
		c = lambada.NewConcurrency(l.members.Share(l.limit, account))
		l.accounts[account] = c
	}
	return c
}

// SetLimits records f's reserved and provisioned concurrency; a Function
// with only a Name has neither.
func (l *Limiter) SetLimits(f *lambada.Function) {
	versions := f.ProvisionedVersions()
	l.mu.Lock()
	l.setLocked(l.account(f.Account), f, versions)
	l.mu.Unlock()
}

// setLocked records f's limits in c, its provisioned versions computed by
// the caller outside the lock; l.mu is held. In a cluster they are this
// node's shares.
func (l *Limiter) setLocked(c *lambada.Concurrency, f *lambada.Function, versions map[string]int) {
	fl := functionLimits{key: f.Key(), reserved: f.ReservedConcurrency, versions: versions}
	if fl.reserved == nil && len(versions) == 0 {
		delete(l.functions[f.Account], f.Name)
	} else {
		if l.functions[f.Account] == nil {
			l.functions[f.Account] = map[string]functionLimits{}
		}
		l.functions[f.Account][f.Name] = fl
	}
	l.shareLocked(c, f.Name, fl)
}

// shareLocked records in c this node's shares of the limits fl of the
// function name; l.mu is held. A version's provisioned concurrency is
// shared by the version, the rest of a reservation by the function, and
// the node's part of the reservation is its provisioned shares and its
// share of the rest: the parts add up to the reservation across the
// nodes, and hold each node's provisioned shares.
func (l *Limiter) shareLocked(c *lambada.Concurrency, name string, fl functionLimits) {
	if l.members == nil {
		c.SetReserved(name, fl.reserved)
		c.SetProvisioned(name, fl.versions)
		return
	}
	var shares map[string]int
	provisioned, mine := 0, 0
	if len(fl.versions) > 0 {
		shares = make(map[string]int, len(fl.versions))
		for v, n := range fl.versions {
			shares[v] = l.members.Share(n, lambada.VersionID(fl.key, v))
			provisioned += n
			mine += shares[v]
		}
	}
	reserved := fl.reserved
	if reserved != nil {
		n := mine + l.members.Share(max(*reserved-provisioned, 0), fl.key)
		reserved = &n
	}
	c.SetReserved(name, reserved)
	c.SetProvisioned(name, shares)
}

// Admit takes a slot for one execution of version of f, or returns the
// TooManyRequestsException AWS answers.
func (l *Limiter) Admit(f *lambada.Function, version string) (lambada.Slot, error) {
	versions := f.ProvisionedVersions() // nil, without allocating, for most functions
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.members.Leased(time.Now()) {
		return lambada.Slot{}, lambada.Throttled(lambada.ReasonConcurrentLimit) // cut off from the cluster
	}
	c := l.account(f.Account)
	l.setLocked(c, f, versions) // the record is authoritative
	slot, err := c.Admit(f.Name, version)
	slot.Account = f.Account
	return slot, err
}

// Free releases the slot inv was admitted with: its execution environment
// is done with it. The sandbox calls it once per invocation it ran.
func (l *Limiter) Free(inv *lambada.Invocation) {
	l.mu.Lock()
	l.account(inv.Slot.Account).Release(inv.Slot)
	l.mu.Unlock()
}

// Running returns how many executions of the function whose AccountKey
// is key hold a slot now.
func (l *Limiter) Running(key string) int {
	account, name := lambada.SplitAccountKey(key)
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.account(account).Running(name)
}

// Usage returns a snapshot of each account's executions ("" the node's
// own), its functions named by their AccountKey.
func (l *Limiter) Usage() map[string]lambada.Usage {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]lambada.Usage, len(l.accounts))
	for account, c := range l.accounts {
		u := c.Usage()
		if account != "" {
			running := make(map[string]int, len(u.Running))
			for f, n := range u.Running {
				running[lambada.AccountKey("", account, f)] = n
			}
			u.Running = running
			for i := range u.Provisioned {
				u.Provisioned[i].Function = lambada.AccountKey("", account, u.Provisioned[i].Function)
			}
		}
		out[account] = u
	}
	return out
}
