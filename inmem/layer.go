package inmem

import (
	"cmp"
	"context"
	"slices"

	"github.com/lambada-dev/lambada"
)

var _ lambada.LayerStore = (*Store)(nil)

// layerKey names one version of one layer.
type layerKey struct {
	name    string
	version int64
}

// PublishLayerVersion stores a copy of lv as the next version of its layer.
func (s *Store) PublishLayerVersion(_ context.Context, lv *lambada.LayerVersion) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.layers == nil {
		s.layers = make(map[layerKey]*lambada.LayerVersion)
		s.lastLayerVersion = make(map[string]int64)
	}
	s.lastLayerVersion[lv.Name]++ // never reused, even after deletes
	c := cloneLayerVersion(lv)
	c.Version = s.lastLayerVersion[lv.Name]
	s.layers[layerKey{c.Name, c.Version}] = c
	return c.Version, nil
}

// LayerVersion returns a copy of version of layer name, or ENOTFOUND.
func (s *Store) LayerVersion(_ context.Context, name string, version int64) (*lambada.LayerVersion, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	lv, ok := s.layers[layerKey{name, version}]
	if !ok {
		return nil, lambada.Errorf(lambada.ENOTFOUND, "layer %s version %d not found", name, version)
	}
	return cloneLayerVersion(lv), nil
}

// LayerVersions returns copies of every layer version, sorted by name, then
// by version.
func (s *Store) LayerVersions(context.Context) ([]*lambada.LayerVersion, error) {
	s.mu.RLock()
	out := make([]*lambada.LayerVersion, 0, len(s.layers))
	for _, lv := range s.layers {
		out = append(out, cloneLayerVersion(lv))
	}
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b *lambada.LayerVersion) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Version, b.Version))
	})
	return out, nil
}

// DeleteLayerVersion removes version of layer name, if stored.
func (s *Store) DeleteLayerVersion(_ context.Context, name string, version int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.layers, layerKey{name, version})
	return nil
}

// cloneLayerVersion returns a deep copy of lv, keeping nil slices nil and
// empty ones empty.
func cloneLayerVersion(lv *lambada.LayerVersion) *lambada.LayerVersion {
	c := *lv
	if lv.LicenseInfo != nil {
		license := *lv.LicenseInfo
		c.LicenseInfo = &license
	}
	c.CompatibleRuntimes = slices.Clone(lv.CompatibleRuntimes)
	c.CompatibleArchitectures = slices.Clone(lv.CompatibleArchitectures)
	return &c
}
