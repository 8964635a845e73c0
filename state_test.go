package lambada_test

import (
	"encoding/base64"
	"fmt"
	"slices"
	"testing"

	"github.com/lambada-dev/lambada"
)

func TestStatus_Transitions(t *testing.T) {
	zip := lambada.FailureInvalidZip
	active := lambada.Status{State: "Active", LastUpdateStatus: "Successful"}
	updating := lambada.Status{State: "Active", LastUpdateStatus: "InProgress",
		LastUpdateStatusReason: "The function is being created.", LastUpdateStatusReasonCode: "Creating"}
	failedCreate := lambada.Status{State: "Failed", StateReason: zip.Reason, StateReasonCode: zip.Code,
		LastUpdateStatus: "Failed", LastUpdateStatusReason: zip.Reason, LastUpdateStatusReasonCode: zip.Code}
	failedUpdate := lambada.Status{State: "Active", LastUpdateStatus: "Failed",
		LastUpdateStatusReason: zip.Reason, LastUpdateStatusReasonCode: zip.Code}
	pending := lambada.Creating()
	if want := (lambada.Status{State: "Pending", StateReason: "The function is being created.", StateReasonCode: "Creating"}); pending != want {
		t.Fatalf("Creating() = %+v", pending)
	}
	for _, tc := range []struct {
		name    string
		from    lambada.Status
		event   string // "update", "ready", "fail"
		want    lambada.Status
		preping bool // from is preparing
	}{
		{"create ready", pending, "ready", active, true},
		{"create fails", pending, "fail", failedCreate, true},
		{"update of active", active, "update", updating, false},
		{"update of an old record", lambada.Status{}, "update", updating, false},
		{"update ready", updating, "ready", active, true},
		{"update fails", updating, "fail", failedUpdate, true},
		{"update after a failed update", failedUpdate, "update", updating, false},
		{"update of a failed function", failedCreate, "update", lambada.Status{State: "Failed", StateReason: zip.Reason, StateReasonCode: zip.Code,
			LastUpdateStatus: "InProgress", LastUpdateStatusReason: "The function is being created.", LastUpdateStatusReasonCode: "Creating"}, false},
		{"failed function repaired", failedCreate.Updating(), "ready", active, true},
		// Nothing was being prepared: preparation ending changes nothing.
		{"ready when active", active, "ready", active, false},
		{"fail when active", active, "fail", active, false},
		{"ready after a failure", failedUpdate, "ready", failedUpdate, false},
		{"fail when failed", failedCreate, "fail", failedCreate, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.from.Preparing(); got != tc.preping {
				t.Errorf("Preparing() = %v, want %v", got, tc.preping)
			}
			var got lambada.Status
			switch tc.event {
			case "update":
				got = tc.from.Updating()
			case "ready":
				got = tc.from.Prepared(nil)
			case "fail":
				got = tc.from.Prepared(zip)
			}
			if got != tc.want {
				t.Errorf("%s:\n got %+v\nwant %+v", tc.event, got, tc.want)
			}
		})
	}
}

func TestStatus_Shown(t *testing.T) {
	for _, tc := range []struct{ in, want lambada.Status }{
		{lambada.Status{}, lambada.Status{State: "Active", LastUpdateStatus: "Successful"}},
		{lambada.Creating(), lambada.Creating()},
		{lambada.Status{State: "Active", LastUpdateStatus: "InProgress"}, lambada.Status{State: "Active", LastUpdateStatus: "InProgress"}},
	} {
		if got := tc.in.Shown(); got != tc.want {
			t.Errorf("%+v.Shown() = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

func TestStatus_Checks(t *testing.T) {
	const arn = "arn:aws:lambda:us-east-1:123456789012:function:f"
	for _, tc := range []struct {
		name             string
		s                lambada.Status
		invoke, update   string
		invokeC, updateC string
	}{
		{"active", lambada.Status{State: "Active", LastUpdateStatus: "Successful"}, "", "", "", ""},
		{"old record", lambada.Status{}, "", "", "", ""},
		{"pending", lambada.Creating(),
			"The operation cannot be performed at this time. The function is currently in the following state: Pending",
			"The operation cannot be performed at this time. The resource " + arn + " is currently in the following state: 'Pending'. StateReasonCode: 'Creating'",
			lambada.ECONFLICT, lambada.ECONFLICT},
		{"updating", lambada.Status{}.Updating(), "",
			"The operation cannot be performed at this time. An update is in progress for resource: " + arn,
			"", lambada.ECONFLICT},
		{"failed", lambada.Creating().Prepared(lambada.FailureInvalidZip),
			"The operation cannot be performed at this time. The function is currently in the following state: Failed", "",
			lambada.ECONFLICT, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.s.CheckInvocable()
			if lambada.ErrorCode(err) != tc.invokeC || (err != nil && lambada.ErrorMessage(err) != tc.invoke) {
				t.Errorf("CheckInvocable() = %v, want %q", err, tc.invoke)
			}
			err = tc.s.CheckUpdatable(arn)
			if lambada.ErrorCode(err) != tc.updateC || (err != nil && lambada.ErrorMessage(err) != tc.update) {
				t.Errorf("CheckUpdatable() = %v, want %q", err, tc.update)
			}
		})
	}
}

// TestFunction_UpdateLifecycle follows $LATEST through an update: invocations
// run the previous configuration until it is prepared, and keep running it
// after a failure.
func TestFunction_UpdateLifecycle(t *testing.T) {
	f := &lambada.Function{Name: "f", Latest: lambada.NewFunctionConfig()}
	f.Latest.CodeSha256, f.Latest.Description, f.Latest.RevisionID = sha("old"), "old", "r0"
	n := 0
	revision := func() string { n++; return fmt.Sprintf("r%d", n) }
	ready := func(string) (*lambada.Failure, bool) { return nil, true }

	// An old record (no status) is Active: an update keeps it running.
	f.StartUpdate()
	f.Latest.CodeSha256, f.Latest.Description = sha("new"), "new"
	if got := f.RunningLatest().Description; got != "old" {
		t.Fatalf("during the update $LATEST runs %q, want old", got)
	}
	if cfg, _ := f.Resolve("", 0); cfg.Description != "old" {
		t.Fatalf("Resolve runs %q during the update", cfg.Description)
	}
	if got := f.Preparing(); !slices.Equal(got, []string{lambada.CodeKey(sha("new"))}) {
		t.Fatalf("Preparing() = %v", got)
	}
	// An outcome for another key changes nothing.
	if f.Prepared(func(string) (*lambada.Failure, bool) { return nil, false }, revision) {
		t.Fatal("an unrelated outcome changed the function")
	}
	if !f.Prepared(ready, revision) {
		t.Fatal("Prepared changed nothing")
	}
	if f.Previous != nil || f.RunningLatest().Description != "new" || f.Latest.RevisionID != "r1" || f.Latest.Shown().LastUpdateStatus != "Successful" {
		t.Fatalf("after the update: previous %v, running %q, revision %s, %v", f.Previous, f.RunningLatest().Description, f.Latest.RevisionID, f.Latest.Status)
	}
	if f.Prepared(ready, revision) || f.Latest.RevisionID != "r1" {
		t.Fatal("a second outcome changed the function again")
	}

	// A failed update keeps the last good configuration running, through
	// a second update too.
	f.StartUpdate()
	f.Latest.Description = "broken"
	f.Prepared(func(string) (*lambada.Failure, bool) { return lambada.FailureInvalidZip, true }, revision)
	if f.RunningLatest().Description != "new" || f.Latest.LastUpdateStatus != "Failed" {
		t.Fatalf("after a failed update: running %q, %v", f.RunningLatest().Description, f.Latest.Status)
	}
	f.StartUpdate()
	f.Latest.Description = "fixed"
	if f.RunningLatest().Description != "new" {
		t.Fatalf("an update after a failure runs %q", f.RunningLatest().Description)
	}
	c := f.Clone()
	c.Previous.Description = "changed"
	if f.Previous.Description != "new" {
		t.Fatal("Clone shares Previous")
	}
	f.Prepared(ready, revision)
	if f.Previous != nil || f.RunningLatest().Description != "fixed" {
		t.Fatalf("after the repair: running %q", f.RunningLatest().Description)
	}
}

// TestFunction_PreparedVersions: a new function and the version it published
// become Active together, each with a new RevisionId.
func TestFunction_PreparedVersions(t *testing.T) {
	f := &lambada.Function{Name: "f", Latest: lambada.NewFunctionConfig()}
	f.Latest.CodeSha256, f.Latest.Status, f.Latest.RevisionID = sha("a"), lambada.Creating(), "created"
	v := f.Latest.Clone()
	v.Version, v.RevisionID = "1", "published"
	f.Versions = append(f.Versions, v)
	if got := f.Preparing(); len(got) != 1 {
		t.Fatalf("Preparing() = %v, want one key", got)
	}
	if _, err := f.Resolve("1", 0); err != nil {
		t.Fatal(err)
	}
	if err := f.Versions[0].CheckInvocable(); lambada.ErrorCode(err) != lambada.ECONFLICT {
		t.Fatalf("a Pending version is invocable: %v", err)
	}
	n := 0
	f.Prepared(func(string) (*lambada.Failure, bool) { return nil, true }, func() string { n++; return fmt.Sprint(n) })
	if f.Latest.State != "Active" || f.Versions[0].State != "Active" || f.Latest.RevisionID == f.Versions[0].RevisionID ||
		f.Latest.RevisionID == "created" || f.Versions[0].RevisionID == "published" {
		t.Fatalf("after preparing: %+v / %+v", f.Latest, f.Versions[0])
	}
	if len(f.Preparing()) != 0 {
		t.Fatal("still preparing")
	}
}

// sha is a CodeSha256 of s (any base64 of 32 bytes will do).
func sha(s string) string {
	b := make([]byte, 32)
	copy(b, s)
	return base64.StdEncoding.EncodeToString(b)
}
