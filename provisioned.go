package lambada

import (
	"fmt"
	"maps"
	"math"
	"time"
)

// InitProvisioned is AWS_LAMBDA_INITIALIZATION_TYPE in an environment
// started ahead of time for provisioned concurrency.
const InitProvisioned = "provisioned-concurrency"

// Provisioned concurrency statuses, as AWS reports them.
const (
	ProvisionedInProgress = "IN_PROGRESS"
	ProvisionedReady      = "READY"
	ProvisionedFailed     = "FAILED"
)

// ErrNoProvisioned is AWS's error for a version or alias without
// provisioned concurrency.
var ErrNoProvisioned = Errorf(ENOPROVISIONED, "No Provisioned Concurrency Config found for this function")

// ErrProvisionedLatest is AWS's error for provisioning $LATEST (or, here,
// an alias of it).
var ErrProvisionedLatest = Errorf(EINVALID, "Provisioned Concurrency Configs cannot be applied to unpublished function versions.")

// ProvisionedConfig is the provisioned concurrency configuration of one
// published version or alias: that many execution environments are kept
// initialised ahead of time, never reaped.
type ProvisionedConfig struct {
	Qualifier    string    `json:"qualifier"` // a version number or an alias name
	Requested    int       `json:"requested"`
	LastModified time.Time `json:"lastModified"`
}

// ProvisionedConfig returns the provisioned concurrency configuration of
// qualifier, or nil.
func (f *Function) ProvisionedConfig(qualifier string) *ProvisionedConfig {
	return find(f.Provisioned, qualifier, provisionedQualifier)
}

// PutProvisioned adds pc or replaces the configuration of the same
// qualifier, keeping them sorted. f must be a copy the caller owns.
func (f *Function) PutProvisioned(pc ProvisionedConfig) {
	f.Provisioned = upsert(f.Provisioned, pc, provisionedQualifier)
}

// DeleteProvisioned removes the configuration of qualifier, reporting
// whether there was one.
func (f *Function) DeleteProvisioned(qualifier string) bool {
	var ok bool
	f.Provisioned, ok = remove(f.Provisioned, qualifier, provisionedQualifier)
	return ok
}

// ProvisionedTotal is the provisioned concurrency of all f's versions and
// aliases together.
func (f *Function) ProvisionedTotal() int {
	n := 0
	for _, pc := range f.Provisioned {
		n += pc.Requested
	}
	return n
}

// HeldConcurrency is what f takes out of the account's unreserved pool: its
// reservation when it has one (which includes its provisioned concurrency),
// else its provisioned concurrency.
func (f *Function) HeldConcurrency() int {
	if f.ReservedConcurrency != nil {
		return *f.ReservedConcurrency
	}
	return f.ProvisionedTotal()
}

// ProvisionedShares returns how the provisioned concurrency of qualifier is
// spread over versions: all of it on a version; for an alias, the share of
// its additional version rounded from its weight, the rest on its version.
// A version or alias that no longer exists has no share.
func (f *Function) ProvisionedShares(qualifier string, n int) map[string]int {
	if IsVersionNumber(qualifier) {
		if f.Version(qualifier) == nil {
			return nil
		}
		return map[string]int{qualifier: n}
	}
	a := f.Alias(qualifier)
	if a == nil {
		return nil
	}
	shares := make(map[string]int, 2)
	rest := n
	for v, w := range a.Routing {
		extra := int(math.Round(float64(n) * w))
		if extra > 0 && f.Version(v) != nil {
			shares[v] += extra
			rest -= extra
		}
	}
	if rest > 0 && f.Version(a.FunctionVersion) != nil {
		shares[a.FunctionVersion] += rest
	}
	return shares
}

// ProvisionedVersions returns how many provisioned environments each
// published version of f keeps, over all its configurations.
func (f *Function) ProvisionedVersions() map[string]int {
	if len(f.Provisioned) == 0 {
		return nil
	}
	out := make(map[string]int)
	for _, pc := range f.Provisioned {
		for v, n := range f.ProvisionedShares(pc.Qualifier, pc.Requested) {
			out[v] += n
		}
	}
	return out
}

// CheckProvisioned returns AWS's error for configuring n provisioned
// executions on qualifier of f: an alias of $LATEST (inferred: AWS refuses
// $LATEST itself so), then, when the account's limit is limit and the
// other functions hold heldByOthers (see HeldConcurrency): more than f's
// reservation allows, more than the unreserved pool has, or too little left
// to the other functions; then an alias on a version that is provisioned
// itself, or a version that a provisioned alias points to (409).
func CheckProvisioned(f *Function, qualifier string, n, limit, heldByOthers int) error {
	a := f.Alias(qualifier)
	if a != nil && a.FunctionVersion == LatestVersion {
		return ErrProvisionedLatest
	}
	others := f.ProvisionedTotal()
	if pc := f.ProvisionedConfig(qualifier); pc != nil {
		others -= pc.Requested
	}
	if f.ReservedConcurrency != nil {
		if others+n > *f.ReservedConcurrency {
			return Errorf(EINVALID, "Requested Provisioned Concurrency should not be greater than the reservedConcurrentExecution for function")
		}
	} else {
		unreserved := limit - heldByOthers - others
		if n > unreserved {
			return &Error{Code: EINVALIDBARE, Message: fmt.Sprintf("Specified ConcurrentExecutions for function is greater than account's unreserved concurrency [%d].", unreserved)}
		}
		if unreserved-n < MinUnreservedConcurrency {
			return &Error{Code: EINVALIDBARE, Message: fmt.Sprintf("Specified ConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [%d].", MinUnreservedConcurrency)}
		}
	}
	if a != nil {
		return CheckProvisionedAlias(f, a)
	}
	for _, name := range f.AliasesOf(qualifier) {
		if f.ProvisionedConfig(name) != nil {
			return Errorf(ECONFLICT, "Version is pointed by a Provisioned Concurrency alias")
		}
	}
	return nil
}

// CheckProvisionedAlias returns AWS's error for alias a of f having
// provisioned concurrency: it points to $LATEST, or routes to a version
// that is provisioned itself (409). UpdateAlias checks it too for an alias
// that has provisioned concurrency (inferred: AWS's answer there is not
// documented).
func CheckProvisionedAlias(f *Function, a *Alias) error {
	if a.FunctionVersion == LatestVersion {
		return ErrProvisionedLatest
	}
	provisioned := f.ProvisionedConfig(a.FunctionVersion) != nil
	for v := range a.Routing {
		provisioned = provisioned || f.ProvisionedConfig(v) != nil
	}
	if provisioned {
		return Errorf(ECONFLICT, "Alias can't be used for Provisioned Concurrency configuration on an already Provisioned version")
	}
	return nil
}

// CheckProvisionedFloor returns AWS's error for reserving n executions for f
// when n is below its provisioned concurrency. AWS's text starts with a space,
// has two after the member's name, and comes without "Type".
func CheckProvisionedFloor(f *Function, n int) error {
	if total := f.ProvisionedTotal(); n < total {
		return &Error{Code: EINVALIDBARE, Message: fmt.Sprintf(" ReservedConcurrentExecutions  %d should not be lower than function's total provisioned concurrency [%d].", n, total)}
	}
	return nil
}

// ProvisionedStatus is the status AWS reports for a configuration of
// requested environments of which allocated are ready, given the reason an
// environment failed to initialise (empty if none).
func ProvisionedStatus(requested, allocated int, failure string) string {
	switch {
	case allocated >= requested:
		return ProvisionedReady
	case failure != "":
		return ProvisionedFailed
	}
	return ProvisionedInProgress
}

// ProvisionedAllocation spreads the ready provisioned environments of each
// version (ready) over f's configurations, in qualifier order, and returns
// how many each configuration has allocated.
func (f *Function) ProvisionedAllocation(ready map[string]int) map[string]int {
	left := make(map[string]int, len(ready))
	maps.Copy(left, ready)
	out := make(map[string]int, len(f.Provisioned))
	for _, pc := range f.Provisioned {
		for v, share := range f.ProvisionedShares(pc.Qualifier, pc.Requested) {
			n := min(share, left[v])
			left[v] -= n
			out[pc.Qualifier] += n
		}
	}
	return out
}
