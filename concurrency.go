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
// when the account's limit is limit and the other functions reserve
// reservedByOthers. AWS answers the same text when n exceeds the limit.
func CheckReservedConcurrency(n, limit, reservedByOthers int) error {
	if n < 0 {
		var v Validation
		v.Add(fmt.Sprint(n), "reservedConcurrentExecutions", "Member must have value greater than or equal to 0")
		return v.Err()
	}
	if limit-reservedByOthers-n < MinUnreservedConcurrency {
		return &Error{Code: EINVALIDBARE, Message: fmt.Sprintf("Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [%d].", MinUnreservedConcurrency)}
	}
	return nil
}

// Concurrency counts running executions against the account limit and the
// functions' reservations. It is plain arithmetic: the caller serialises
// access. The zero value has no limit set; use NewConcurrency.
type Concurrency struct {
	limit         int
	reserved      map[string]int // functions with reserved concurrency
	reservedTotal int
	running       map[string]int // per function, reserved or not
	unreserved    int            // running executions of functions without a reservation
}

// NewConcurrency counts against an account limit of limit.
func NewConcurrency(limit int) *Concurrency {
	return &Concurrency{limit: limit, reserved: map[string]int{}, running: map[string]int{}}
}

// Limit returns the account limit.
func (c *Concurrency) Limit() int { return c.limit }

// Unreserved returns the size of the pool the functions without a
// reservation share.
func (c *Concurrency) Unreserved() int { return c.limit - c.reservedTotal }

// SetReserved records function's reservation (nil: none).
func (c *Concurrency) SetReserved(function string, n *int) {
	c.reservedTotal -= c.reserved[function]
	delete(c.reserved, function)
	if n != nil {
		c.reserved[function] = *n
		c.reservedTotal += *n
	}
}

// Slot is one admitted execution; Release gives it back.
type Slot struct {
	Function   string
	Unreserved bool // counted in the shared pool
}

// Admit takes a slot for one more execution of function, or returns the
// TooManyRequestsException that AWS answers.
func (c *Concurrency) Admit(function string) (Slot, error) {
	if n, ok := c.reserved[function]; ok {
		if c.running[function] >= n {
			return Slot{}, Throttled(ReasonReservedLimit)
		}
		c.running[function]++
		return Slot{Function: function}, nil
	}
	if c.unreserved >= c.Unreserved() {
		return Slot{}, Throttled(ReasonConcurrentLimit)
	}
	c.unreserved++
	c.running[function]++
	return Slot{Function: function, Unreserved: true}, nil
}

// Release gives back a slot taken by Admit.
func (c *Concurrency) Release(s Slot) {
	if s.Unreserved {
		c.unreserved--
	}
	if c.running[s.Function]--; c.running[s.Function] <= 0 {
		delete(c.running, s.Function)
	}
}

// Running returns how many executions of function are counted now.
func (c *Concurrency) Running(function string) int { return c.running[function] }
