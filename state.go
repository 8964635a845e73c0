package lambada

import "fmt"

// States of a function configuration, and the statuses of its last update,
// as AWS reports them (docs/aws-behaviour.md §7.6).
//
// CreateFunction stores $LATEST (and a version it publishes) Pending; once
// its code is ready on the node it turns Active, or Failed. An update of
// $LATEST (its code or its configuration) leaves State as it is and sets
// LastUpdateStatus InProgress, then Successful or Failed. A version published
// by an update starts Pending like a new function. Each of these transitions
// is a new revision of the configuration (a new RevisionId), and none waits
// for anything but the work itself. While an update is in progress, and
// after one failed, invocations of $LATEST run the configuration it had
// before (Function.Previous).
const (
	StatePending = "Pending"
	StateActive  = "Active"
	StateFailed  = "Failed"

	UpdateInProgress = "InProgress"
	UpdateSuccessful = "Successful"
	UpdateFailed     = "Failed"
)

// ReasonCodeCreating is the StateReasonCode of a Pending configuration and
// the LastUpdateStatusReasonCode of an update in progress; reasonCreating is
// their text, which AWS gives for updates too.
const (
	ReasonCodeCreating = "Creating"
	reasonCreating     = "The function is being created."
)

// Failure is why preparing a configuration failed, as AWS's reason code and
// text.
type Failure struct {
	Code   string
	Reason string
}

// Failures that preparing code can end in.
var (
	// FailureInvalidZip: the archive passed the checks made before
	// CreateFunction or UpdateFunctionCode answered, but does not unpack.
	FailureInvalidZip = &Failure{Code: "InvalidZipFileException", Reason: "Could not unzip uploaded file. Please check your file, then try to upload again."}
	// FailureInternal: the node could not prepare the code (a full disk, a
	// store that lost the archive).
	FailureInternal = &Failure{Code: "InternalError", Reason: "An internal error occurred while preparing the function's code."}
)

// Status is where the preparation of one configuration stands. The zero
// value, which records written before states were kept have, is Active with
// a Successful last update.
type Status struct {
	State           string `json:"state,omitempty"`
	StateReason     string `json:"stateReason,omitempty"`
	StateReasonCode string `json:"stateReasonCode,omitempty"`

	LastUpdateStatus           string `json:"lastUpdateStatus,omitempty"`
	LastUpdateStatusReason     string `json:"lastUpdateStatusReason,omitempty"`
	LastUpdateStatusReasonCode string `json:"lastUpdateStatusReasonCode,omitempty"`
}

// Creating is the status of a configuration whose code is being prepared
// for the first time: a new function, or a new version.
func Creating() Status {
	return Status{State: StatePending, StateReason: reasonCreating, StateReasonCode: ReasonCodeCreating}
}

// Shown returns s with its defaults filled in, as the Get operations show it.
func (s Status) Shown() Status {
	if s.State == "" {
		s.State = StateActive
	}
	if s.LastUpdateStatus == "" && s.State != StatePending {
		s.LastUpdateStatus = UpdateSuccessful
	}
	return s
}

// Preparing reports whether the configuration waits for its preparation.
func (s Status) Preparing() bool {
	return s.State == StatePending || s.LastUpdateStatus == UpdateInProgress
}

// Updating returns the status of a configuration being updated: its State
// as it was, its last update in progress.
func (s Status) Updating() Status {
	return Status{State: s.Shown().State, StateReason: s.StateReason, StateReasonCode: s.StateReasonCode,
		LastUpdateStatus: UpdateInProgress, LastUpdateStatusReason: reasonCreating, LastUpdateStatusReasonCode: ReasonCodeCreating}
}

// Prepared returns the status once the preparation ended, failure being nil
// when it succeeded. A Pending configuration turns Active or Failed (with
// its last update the same, inferred); an update turns Successful, or Failed
// leaving the State as it was, except that a successful update makes a
// Failed function Active (inferred). A status that was not preparing is
// returned as it is.
func (s Status) Prepared(failure *Failure) Status {
	switch {
	case !s.Preparing():
		return s
	case failure == nil:
		return Status{State: StateActive, LastUpdateStatus: UpdateSuccessful}
	case s.State == StatePending:
		return Status{State: StateFailed, StateReason: failure.Reason, StateReasonCode: failure.Code,
			LastUpdateStatus: UpdateFailed, LastUpdateStatusReason: failure.Reason, LastUpdateStatusReasonCode: failure.Code}
	}
	return Status{State: s.State, StateReason: s.StateReason, StateReasonCode: s.StateReasonCode,
		LastUpdateStatus: UpdateFailed, LastUpdateStatusReason: failure.Reason, LastUpdateStatusReasonCode: failure.Code}
}

// Published returns the status of a version published from a $LATEST with
// status s: Pending while $LATEST's code is being prepared (the version is
// prepared with it); Failed, with the reason, when $LATEST's code could not
// be prepared (inferred: the version holds the same code); else Active.
func (s Status) Published() Status {
	s = s.Shown()
	switch {
	case s.Preparing():
		return Creating()
	case s.State == StateFailed:
		return Status{State: StateFailed, StateReason: s.StateReason, StateReasonCode: s.StateReasonCode,
			LastUpdateStatus: UpdateFailed, LastUpdateStatusReason: s.StateReason, LastUpdateStatusReasonCode: s.StateReasonCode}
	case s.LastUpdateStatus == UpdateFailed:
		return Status{State: StateFailed, StateReason: s.LastUpdateStatusReason, StateReasonCode: s.LastUpdateStatusReasonCode,
			LastUpdateStatus: UpdateFailed, LastUpdateStatusReason: s.LastUpdateStatusReason, LastUpdateStatusReasonCode: s.LastUpdateStatusReasonCode}
	}
	return Status{State: StateActive, LastUpdateStatus: UpdateSuccessful}
}

// CheckInvocable returns AWS's 409 for invoking a configuration that is not
// Active.
func (s Status) CheckInvocable() error {
	if st := s.Shown().State; st != StateActive {
		return Errorf(ECONFLICT, "The operation cannot be performed at this time. The function is currently in the following state: %s", st)
	}
	return nil
}

// CheckUpdatable returns AWS's 409 for changing the code or configuration of
// a function (or publishing a version of it) whose $LATEST has status s: an
// update in progress, or a function still being created. arn is the
// function's unqualified ARN.
func (s Status) CheckUpdatable(arn string) error {
	switch {
	case s.LastUpdateStatus == UpdateInProgress:
		return Errorf(ECONFLICT, "The operation cannot be performed at this time. An update is in progress for resource: %s", arn)
	case s.State == StatePending:
		return Errorf(ECONFLICT, "The operation cannot be performed at this time. The resource %s is currently in the following state: 'Pending'. StateReasonCode: '%s'", arn, s.StateReasonCode)
	}
	return nil
}

// StartUpdate marks f.Latest as being updated; call it before changing
// Latest. Invocations of $LATEST keep running what Latest was (Previous)
// until the update is prepared, unless it could not run anyway. f must be a
// copy the caller owns.
func (f *Function) StartUpdate() {
	s := f.Latest.Shown()
	if f.Previous == nil && s.State == StateActive && s.LastUpdateStatus == UpdateSuccessful {
		p := f.Latest.Clone()
		f.Previous = &p
	}
	f.Latest.Status = f.Latest.Status.Updating()
}

// RunningLatest returns the $LATEST configuration that invocations run:
// Previous while an update of Latest is being prepared or failed, else
// Latest.
func (f *Function) RunningLatest() *FunctionConfig {
	if f.Previous != nil {
		return f.Previous
	}
	return &f.Latest
}

// Preparing returns the code keys of f's configurations that wait for their
// preparation, each once.
func (f *Function) Preparing() []string {
	var keys []string
	add := func(c *FunctionConfig) {
		if !c.Preparing() {
			return
		}
		k := c.CodeKey()
		for _, have := range keys {
			if have == k {
				return
			}
		}
		keys = append(keys, k)
	}
	add(&f.Latest)
	for i := range f.Versions {
		add(&f.Versions[i])
	}
	return keys
}

// Prepared ends the preparation of every configuration of f whose code key
// outcome knows: outcome returns the failure of a key (nil when its code is
// ready) and whether the key was prepared at all. Each configuration that
// changes gets a new RevisionId from revision. A successful update of Latest
// drops Previous. It reports whether f changed; f must be a copy the caller
// owns.
func (f *Function) Prepared(outcome func(key string) (*Failure, bool), revision func() string) bool {
	changed := false
	end := func(c *FunctionConfig) {
		if !c.Preparing() {
			return
		}
		failure, ok := outcome(c.CodeKey())
		if !ok {
			return
		}
		c.Status = c.Status.Prepared(failure)
		c.RevisionID = revision()
		changed = true
	}
	end(&f.Latest)
	if f.Latest.LastUpdateStatus == UpdateSuccessful {
		f.Previous = nil
	}
	for i := range f.Versions {
		end(&f.Versions[i])
	}
	return changed
}

// String renders s for logs.
func (s Status) String() string {
	return fmt.Sprintf("%s/%s", s.Shown().State, s.Shown().LastUpdateStatus)
}
