package lambada

import "fmt"

// Concurrency limits, as AWS documents them.
const (
	DefaultConcurrency       = 1000 // executions at once per account and region
	MinUnreservedConcurrency = 100  // what reservations must leave to the other functions
)

// Throttle reasons of TooManyRequestsException.
const (
	ReasonConcurrentLimit = "ConcurrentInvocationLimitExceeded"
	ReasonReservedLimit   = "ReservedFunctionConcurrentInvocationLimitExceeded"
)

// Throttled returns the TooManyRequestsException for reason.
func Throttled(reason string) error {
	return &Error{Code: ETHROTTLED, Message: "Rate Exceeded.", Reason: reason}
}

// CheckReservedConcurrency validates reserving n executions for a function
// when the account's limit is limit and the other functions hold
// heldByOthers of it (Function.HeldConcurrency). AWS answers the same text
// when n exceeds the limit.
func CheckReservedConcurrency(n, limit, heldByOthers int) error {
	if n < 0 {
		var v Validation
		v.Add(fmt.Sprint(n), "reservedConcurrentExecutions", "Member must have value greater than or equal to 0")
		return v.Err()
	}
	if limit-heldByOthers-n < MinUnreservedConcurrency {
		return &Error{Code: EINVALIDBARE, Message: fmt.Sprintf("Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [%d].", MinUnreservedConcurrency)}
	}
	return nil
}

// Concurrency counts running executions against the account limit and the
// functions' reservations and provisioned concurrency, as AWS admits them
// (docs/aws-behaviour.md §6.2). It is plain arithmetic: the caller
// serialises access. The zero value has no limit set; use NewConcurrency.
//
// A function with a reservation runs at most that many executions, its
// provisioned ones included: each version runs up to its provisioned
// concurrency in its provisioned environments, and every other execution
// (of a version without provisioned concurrency, or beyond it) shares what
// the reservation leaves over the provisioned total. So a reservation equal
// to the provisioned total admits nothing on demand. A function without one
// runs, per version, up to that version's provisioned concurrency outside
// the shared pool, and spills over into the pool beyond it; the pool is the
// account limit less what every function holds (Function.HeldConcurrency).
type Concurrency struct {
	limit       int
	reserved    map[string]int            // functions with reserved concurrency
	provisioned map[string]map[string]int // function → version → provisioned executions
	held        map[string]int            // what each function takes out of the pool
	heldTotal   int
	running     map[string]int // per function, however admitted
	provRunning map[versionKey]int
	onDemand    map[string]int // per function with a reservation, executions beyond provisioned ones
	unreserved  int            // running executions counted in the shared pool
}

type versionKey struct{ function, version string }

// NewConcurrency counts against an account limit of limit.
func NewConcurrency(limit int) *Concurrency {
	return &Concurrency{limit: limit, reserved: map[string]int{}, provisioned: map[string]map[string]int{},
		held: map[string]int{}, running: map[string]int{}, provRunning: map[versionKey]int{}, onDemand: map[string]int{}}
}

// Limit returns the account limit.
func (c *Concurrency) Limit() int { return c.limit }

// SetLimit changes the account limit: executions running beyond a lower
// one finish, and none is admitted until they fit.
func (c *Concurrency) SetLimit(n int) { c.limit = n }

// Unreserved returns the size of the pool the functions share beyond their
// reservations and provisioned concurrency.
func (c *Concurrency) Unreserved() int { return c.limit - c.heldTotal }

// SetReserved records function's reservation (nil: none).
func (c *Concurrency) SetReserved(function string, n *int) {
	delete(c.reserved, function)
	if n != nil {
		c.reserved[function] = *n
	}
	c.updateHeld(function)
}

// SetProvisioned records the provisioned concurrency of function's versions
// (nil: none). c keeps versions; the caller must not change it afterwards.
func (c *Concurrency) SetProvisioned(function string, versions map[string]int) {
	delete(c.provisioned, function)
	if len(versions) > 0 {
		c.provisioned[function] = versions
	}
	c.updateHeld(function)
}

func (c *Concurrency) updateHeld(function string) {
	c.heldTotal -= c.held[function]
	delete(c.held, function)
	n, ok := c.reserved[function]
	if !ok {
		for _, p := range c.provisioned[function] {
			n += p
		}
	}
	if n > 0 {
		c.held[function] = n
		c.heldTotal += n
	}
}

// Slot is one admitted execution; Release gives it back.
type Slot struct {
	Account     string // the account whose limit counts it ("" for the node's own)
	Function    string
	Version     string // set when counted against the version's provisioned concurrency
	Provisioned bool
	OnDemand    bool // counted in a reservation beyond its provisioned concurrency
	Unreserved  bool // counted in the shared pool
}

// Admit takes a slot for one more execution of version of function, or
// returns the TooManyRequestsException that AWS answers.
func (c *Concurrency) Admit(function, version string) (Slot, error) {
	if p := c.provisioned[function][version]; p > 0 {
		k := versionKey{function, version}
		if c.provRunning[k] < p {
			c.provRunning[k]++
			c.running[function]++
			return Slot{Function: function, Version: version, Provisioned: true}, nil
		}
	}
	if n, ok := c.reserved[function]; ok {
		if c.onDemand[function] >= n-c.provisionedTotal(function) {
			return Slot{}, Throttled(ReasonReservedLimit)
		}
		c.onDemand[function]++
		c.running[function]++
		return Slot{Function: function, OnDemand: true}, nil
	}
	if c.unreserved >= c.Unreserved() {
		return Slot{}, Throttled(ReasonConcurrentLimit)
	}
	c.unreserved++
	c.running[function]++
	return Slot{Function: function, Unreserved: true}, nil
}

// provisionedTotal is the provisioned concurrency of all function's
// versions together.
func (c *Concurrency) provisionedTotal(function string) int {
	n := 0
	for _, p := range c.provisioned[function] {
		n += p
	}
	return n
}

// Release gives back a slot taken by Admit.
func (c *Concurrency) Release(s Slot) {
	switch {
	case s.Unreserved:
		c.unreserved--
	case s.OnDemand:
		if c.onDemand[s.Function]--; c.onDemand[s.Function] <= 0 {
			delete(c.onDemand, s.Function)
		}
	case s.Provisioned:
		k := versionKey{s.Function, s.Version}
		if c.provRunning[k]--; c.provRunning[k] <= 0 {
			delete(c.provRunning, k)
		}
	}
	if c.running[s.Function]--; c.running[s.Function] <= 0 {
		delete(c.running, s.Function)
	}
}

// Over reports whether c counts more executions than its limits allow
// now: a limit lowered under running executions (a cluster's shares, when
// a node joins) until enough of them end.
func (c *Concurrency) Over() bool {
	if c.unreserved > c.Unreserved() {
		return true
	}
	for f, n := range c.onDemand {
		if n > c.reserved[f]-c.provisionedTotal(f) {
			return true
		}
	}
	for k, n := range c.provRunning {
		if n > c.provisioned[k.function][k.version] {
			return true
		}
	}
	return false
}

// Running returns how many executions of function are counted now.
func (c *Concurrency) Running(function string) int { return c.running[function] }

// Usage is a snapshot of the executions an account's limit counts.
type Usage struct {
	Running     map[string]int // by function, however admitted
	Unreserved  int            // executions counted in the shared pool
	Provisioned []ProvisionedUse
}

// ProvisionedUse is the provisioned concurrency of one version: its
// executions running in it, and how many it has.
type ProvisionedUse struct {
	Function, Version string
	Running, Of       int
}

// Usage returns a snapshot of c's executions.
func (c *Concurrency) Usage() Usage {
	u := Usage{Running: make(map[string]int, len(c.running)), Unreserved: c.unreserved}
	for f, n := range c.running {
		u.Running[f] = n
	}
	for f, versions := range c.provisioned {
		for v, of := range versions {
			u.Provisioned = append(u.Provisioned, ProvisionedUse{Function: f, Version: v, Running: c.provRunning[versionKey{f, v}], Of: of})
		}
	}
	return u
}
