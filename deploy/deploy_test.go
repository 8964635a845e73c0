package deploy_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/lambada-dev/lambada"
	"github.com/lambada-dev/lambada/deploy"
	"github.com/lambada-dev/lambada/inmem"
)

// code is a fake CodePather: keys in bad do not unpack, keys in broken fail
// for another reason, and while gate is open Path waits for it.
type code struct {
	mu     sync.Mutex
	bad    map[string]bool
	broken map[string]bool
	gate   chan struct{}
	asked  map[string]int
	calls  chan string // receives each key asked, when not nil
}

func (c *code) Opt(ctx context.Context, keys []string) (string, error) {
	for _, k := range keys {
		if _, err := c.Path(ctx, k); err != nil {
			return "", err
		}
	}
	return "/opt", nil
}

func (c *code) Path(ctx context.Context, key string) (string, error) {
	c.mu.Lock()
	if c.asked == nil {
		c.asked = map[string]int{}
	}
	c.asked[key]++
	gate, calls := c.gate, c.calls
	bad, broken := c.bad[key], c.broken[key]
	c.mu.Unlock()
	if calls != nil {
		calls <- key
	}
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
	switch {
	case bad:
		return "", fmt.Errorf("unzip: %w", lambada.Errorf(lambada.EINVALID, "Could not unzip uploaded file. Please check your file, then try to upload again."))
	case broken:
		return "", errors.New("disk full")
	}
	return "/code/" + key, nil
}

// pending stores a new function whose $LATEST is Pending with the code of
// codeSha256.
func pending(t *testing.T, store lambada.FunctionStore, name, codeSha256 string) {
	t.Helper()
	f := &lambada.Function{Name: name, Latest: lambada.NewFunctionConfig()}
	f.Latest.CodeSha256, f.Latest.Status, f.Latest.RevisionID = codeSha256, lambada.Creating(), "r0"
	if _, err := store.PutFunction(t.Context(), f); err != nil {
		t.Fatal(err)
	}
}

func mustGet(t *testing.T, store lambada.FunctionStore, name string) *lambada.Function {
	t.Helper()
	f, err := store.Function(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func open(t *testing.T, store lambada.FunctionStore, c *code) *deploy.Preparer {
	t.Helper()
	var n atomic.Int64
	p := &deploy.Preparer{Functions: store, Code: c, NewRevision: func() string { return fmt.Sprint("rev-", n.Add(1)) }}
	if err := p.Open(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// TestPreparer_Resume: Open prepares what a previous run left Pending.
func TestPreparer_Resume(t *testing.T) {
	store := &inmem.Store{}
	pending(t, store, "left", "AAAA")
	pending(t, store, "bad", "BBBB")
	done := &lambada.Function{Name: "done", Latest: lambada.NewFunctionConfig()}
	done.Latest.CodeSha256, done.Latest.RevisionID = "CCCC", "kept"
	if _, err := store.PutFunction(t.Context(), done); err != nil {
		t.Fatal(err)
	}
	c := &code{bad: map[string]bool{lambada.CodeKey("BBBB"): true}}
	p := open(t, store, c)
	for _, name := range []string{"left", "bad", "done"} {
		if err := p.Wait(t.Context(), name); err != nil {
			t.Fatal(err)
		}
	}
	if f := mustGet(t, store, "left"); f.Latest.State != lambada.StateActive || f.Latest.RevisionID == "r0" {
		t.Fatalf("left: %v, revision %s", f.Latest.Status, f.Latest.RevisionID)
	}
	if f := mustGet(t, store, "bad"); f.Latest.State != lambada.StateFailed || f.Latest.StateReasonCode != "InvalidZipFileException" {
		t.Fatalf("bad: %+v", f.Latest.Status)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if f := mustGet(t, store, "done"); f.Latest.RevisionID != "kept" || c.asked[lambada.CodeKey("CCCC")] != 0 {
		t.Fatalf("a function with nothing to prepare was touched: %s", f.Latest.RevisionID)
	}
}

// TestPreparer_InternalFailure: code the node cannot prepare for a reason of
// its own leaves the function Failed with InternalError.
func TestPreparer_InternalFailure(t *testing.T) {
	store := &inmem.Store{}
	c := &code{broken: map[string]bool{lambada.CodeKey("AAAA"): true}}
	p := open(t, store, c)
	pending(t, store, "f", "AAAA")
	p.Prepare("f")
	if err := p.Wait(t.Context(), "f"); err != nil {
		t.Fatal(err)
	}
	if f := mustGet(t, store, "f"); f.Latest.State != lambada.StateFailed || f.Latest.StateReasonCode != "InternalError" {
		t.Fatalf("%+v", f.Latest.Status)
	}
}

// TestPreparer_CloseInterrupts: Close stops the work under way and leaves
// the function Pending, for the next Open.
func TestPreparer_CloseInterrupts(t *testing.T) {
	store := &inmem.Store{}
	c := &code{gate: make(chan struct{}), calls: make(chan string, 1)}
	p := open(t, store, c)
	pending(t, store, "f", "AAAA")
	p.Prepare("f")
	<-c.calls // the unpack is under way
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if f := mustGet(t, store, "f"); f.Latest.State != lambada.StatePending {
		t.Fatalf("after Close: %+v", f.Latest.Status)
	}
	p.Prepare("f") // after Close: nothing starts
	c.mu.Lock()
	c.gate, c.calls = nil, nil
	c.mu.Unlock()
	p2 := open(t, store, c)
	if err := p2.Wait(t.Context(), "f"); err != nil {
		t.Fatal(err)
	}
	if f := mustGet(t, store, "f"); f.Latest.State != lambada.StateActive {
		t.Fatalf("after the next Open: %+v", f.Latest.Status)
	}
}

// TestPreparer_Again: asked again while at work, the Preparer looks once
// more and prepares what came meanwhile.
func TestPreparer_Again(t *testing.T) {
	store := &inmem.Store{}
	gate := make(chan struct{})
	c := &code{gate: gate, calls: make(chan string, 4)}
	p := open(t, store, c)
	pending(t, store, "f", "AAAA")
	p.Prepare("f")
	<-c.calls
	// Meanwhile a version with other code is published, Pending.
	f := mustGet(t, store, "f").Clone()
	v := f.Latest.Clone()
	v.Version, v.CodeSha256, v.Status = "1", "BBBB", lambada.Creating()
	f.Versions = append(f.Versions, v)
	if _, err := store.PutFunction(t.Context(), f); err != nil {
		t.Fatal(err)
	}
	p.Prepare("f")
	close(gate)
	if err := p.Wait(t.Context(), "f"); err != nil {
		t.Fatal(err)
	}
	got := mustGet(t, store, "f")
	if got.Latest.State != lambada.StateActive || got.Versions[0].State != lambada.StateActive {
		t.Fatalf("after both: $LATEST %v, version 1 %v", got.Latest.Status, got.Versions[0].Status)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.asked[lambada.CodeKey("AAAA")] != 1 || c.asked[lambada.CodeKey("BBBB")] != 1 {
		t.Fatalf("keys asked %v, want each once", c.asked)
	}
}

// TestPreparer_Deleted: a function deleted while it is prepared stays
// deleted.
func TestPreparer_Deleted(t *testing.T) {
	store := &inmem.Store{}
	gate := make(chan struct{})
	c := &code{gate: gate, calls: make(chan string, 1)}
	p := open(t, store, c)
	pending(t, store, "f", "AAAA")
	p.Prepare("f")
	<-c.calls
	if err := store.DeleteFunction(t.Context(), "f"); err != nil {
		t.Fatal(err)
	}
	close(gate)
	if err := p.Wait(t.Context(), "f"); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Function(t.Context(), "f"); lambada.ErrorCode(err) != lambada.ENOTFOUND {
		t.Fatalf("the deleted function came back: %v", err)
	}
}
