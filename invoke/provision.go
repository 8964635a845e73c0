package invoke

import (
	"context"
	"fmt"

	"github.com/lambada-dev/lambada"
	"github.com/lambada-dev/lambada/sandbox"
)

// Apply makes f's reserved and provisioned concurrency take effect:
// invocations are admitted against them at once, and the environments of
// its provisioned versions start in the background. A Function with only a
// Name stands for one that was deleted: its environments are stopped. The control plane calls it after
// every change to a function's concurrency, versions or aliases, and cmd
// once per function at start.
func (s *Service) Apply(ctx context.Context, f *lambada.Function) error {
	if s.Limiter != nil {
		s.Limiter.SetLimits(f)
	}
	if s.Provisioner == nil {
		return nil
	}
	versions := f.ProvisionedVersions()
	want := make([]sandbox.Provisioned, 0, len(versions))
	for v, n := range versions {
		cfg := f.Version(v)
		dir, err := s.Code.Path(ctx, cfg.CodeKey())
		if err != nil {
			return fmt.Errorf("provision %s:%s: %w", f.Name, v, err)
		}
		want = append(want, sandbox.Provisioned{Config: s.sandboxConfig(f.Name, cfg, dir), N: n})
	}
	s.Provisioner.Provision(f.Name, want)
	if f.Latest.Version == "" { // deleted
		s.Provisioner.Retire(f.Name)
	}
	return nil
}

// Allocated returns how many environments of the provisioned concurrency
// configuration of qualifier of f are ready, and why one failed to start,
// if one did.
func (s *Service) Allocated(f *lambada.Function, qualifier string) (int, string) {
	if s.Provisioner == nil {
		return 0, ""
	}
	var mine map[string]int
	if pc := f.ProvisionedConfig(qualifier); pc != nil {
		mine = f.ProvisionedShares(qualifier, pc.Requested)
	}
	ready := make(map[string]int)
	var failure string
	for v := range f.ProvisionedVersions() {
		n, why := s.Provisioner.Ready(f.Name, v)
		ready[v] = n
		if _, ok := mine[v]; ok && why != "" {
			failure = why
		}
	}
	return f.ProvisionedAllocation(ready)[qualifier], failure
}
