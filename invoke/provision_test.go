package invoke

import (
	"context"
	"testing"

	"github.com/lambada-dev/lambada"
	"github.com/lambada-dev/lambada/inmem"
)

// provisioner records what Apply asks for and reports ready environments
// per version.
type provisioner struct {
	want    map[string][]lambada.SandboxTarget
	ready   map[string]int
	failure map[string]string
	retired []string
}

func (p *provisioner) Retire(function string) { p.retired = append(p.retired, function) }

func (p *provisioner) Provision(function string, want []lambada.SandboxTarget) {
	p.want[function] = want
}

func (p *provisioner) Ready(function, version string) (int, string) {
	return p.ready[version], p.failure[version]
}

func TestService_ApplyAndAllocated(t *testing.T) {
	s, _ := newService(t, 0)
	p := &provisioner{want: map[string][]lambada.SandboxTarget{}, ready: map[string]int{}, failure: map[string]string{}}
	s.Provisioner = p
	s.Limiter = NewLimiter(105)
	ctx := context.Background()
	f, err := s.Functions.Function(ctx, "fn")
	if err != nil {
		t.Fatal(err)
	}
	f = f.Clone()
	f.PutProvisioned(lambada.ProvisionedConfig{Qualifier: "live", Requested: 4}) // 1: 3, 2: 1
	f.PutProvisioned(lambada.ProvisionedConfig{Qualifier: "2", Requested: 2})
	store := s.Functions.(*inmem.Store)
	if _, err := store.PutFunction(ctx, f); err != nil {
		t.Fatal(err)
	}
	if err := s.Apply(ctx, "fn"); err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, w := range p.want["fn"] {
		got[w.Config.Version] = w.N
		if w.Config.CodeDir != "/code/"+f.Version(w.Config.Version).CodeKey() || w.Config.Function != "fn" {
			t.Errorf("version %s provisioned with %+v", w.Config.Version, w.Config)
		}
	}
	if len(got) != 2 || got["1"] != 3 || got["2"] != 3 {
		t.Fatalf("provisioned per version: %v, want 1:3 2:3", got)
	}
	// The account's pool shrinks by the 6 provisioned executions at once.
	s.Limiter.mu.Lock()
	unreserved := s.Limiter.account("").Unreserved()
	s.Limiter.mu.Unlock()
	if unreserved != 99 {
		t.Fatalf("unreserved pool %d, want 99", unreserved)
	}

	// Version 2's three ready environments go to "2" first (qualifier
	// order), leaving live's share of it unallocated.
	p.ready["1"], p.ready["2"] = 3, 3
	if n, why := s.Allocated(f, "2"); n != 2 || why != "" {
		t.Fatalf(`"2": %d allocated (%q), want 2`, n, why)
	}
	if n, _ := s.Allocated(f, "live"); n != 4 {
		t.Fatalf(`"live": %d allocated, want 4`, n)
	}
	p.ready["1"], p.failure["1"] = 1, "FUNCTION_ERROR_INIT_FAILURE"
	if n, why := s.Allocated(f, "live"); n != 2 || why != "FUNCTION_ERROR_INIT_FAILURE" {
		t.Fatalf(`"live" with version 1 failing: %d allocated (%q)`, n, why)
	}
	if _, why := s.Allocated(f, "2"); why != "" {
		t.Fatalf(`"2" reports version 1's failure %q`, why)
	}

	// A deleted function keeps nothing.
	if err := store.DeleteFunction(ctx, "fn"); err != nil {
		t.Fatal(err)
	}
	if err := s.Apply(ctx, "fn"); err != nil {
		t.Fatal(err)
	}
	if len(p.want["fn"]) != 0 || len(p.retired) != 1 || p.retired[0] != "fn" {
		t.Fatalf("after deletion: provisioned %+v, retired %v", p.want["fn"], p.retired)
	}
}
