package invoke

import (
	"context"
	"fmt"

	"github.com/lambada-dev/lambada"
)

// Apply makes the stored reserved and provisioned concurrency of the
// function whose AccountKey is key take effect: invocations are admitted against them at
// once, and the environments of its provisioned versions start in the
// background. It reads the record stored now, one call at a time, so that
// changes applied out of order still end with the latest; a function no
// longer stored has its environments stopped. The control plane calls it
// after every change to a function's concurrency, versions or aliases (and
// after deleting it), and cmd once per function at start.
func (s *Service) Apply(ctx context.Context, key string) error {
	s.applyMu.Lock()
	defer s.applyMu.Unlock()
	cur, err := s.Functions.Function(ctx, key)
	deleted := lambada.ErrorCode(err) == lambada.ENOTFOUND
	switch {
	case deleted:
		cur = &lambada.Function{}
		cur.Account, cur.Name = lambada.SplitAccountKey(key)
	case err != nil:
		return fmt.Errorf("apply %s: %w", key, err)
	}
	if s.Limiter != nil {
		s.Limiter.SetLimits(cur)
	}
	if s.Provisioner == nil {
		return nil
	}
	versions := cur.ProvisionedVersions()
	want := make([]lambada.SandboxTarget, 0, len(versions))
	for v, n := range versions {
		if s.Limiter != nil { // in a cluster, this node's share
			n = s.Limiter.Share(n, lambada.VersionID(key, v))
		}
		cfg := cur.Version(v)
		sc, err := s.sandboxConfig(ctx, cur, cfg)
		if err != nil {
			return fmt.Errorf("provision %s:%s: %w", key, v, err)
		}
		want = append(want, lambada.SandboxTarget{Config: sc, N: n})
	}
	s.Provisioner.Provision(key, want)
	if deleted {
		s.Provisioner.Retire(key)
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
		n, why := s.Provisioner.Ready(f.Key(), v)
		ready[v] = n
		if _, ok := mine[v]; ok && why != "" {
			failure = why
		}
	}
	return f.ProvisionedAllocation(ready)[qualifier], failure
}
