// Package inmem implements Lambada's store interfaces in memory. It is the
// fake for unit tests of the layers above the stores; it keeps nothing across
// restarts and must not be used by `lambada serve`.
package inmem

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/lambada-dev/lambada"
)

var (
	_ lambada.FunctionStore = (*Store)(nil)
	_ lambada.CodeStore     = (*Store)(nil)
)

// Store holds functions, code archives and layer versions in maps. The zero
// value is ready.
type Store struct {
	mu        sync.RWMutex
	functions map[string]*lambada.Function
	code      map[string]storedZip
	revision  uint64

	layers           map[layerKey]*lambada.LayerVersion
	lastLayerVersion map[string]int64 // by layer name: the highest number ever published
}

type storedZip struct {
	zip    []byte
	stored time.Time
}

// Function returns the function named name, or ENOTFOUND.
func (s *Store) Function(_ context.Context, name string) (*lambada.Function, error) {
	s.mu.RLock()
	f, ok := s.functions[name]
	s.mu.RUnlock()
	if !ok {
		return nil, lambada.Errorf(lambada.ENOTFOUND, "function %s not found", name)
	}
	return f, nil
}

// Functions returns every function, sorted by name.
func (s *Store) Functions(context.Context) ([]*lambada.Function, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]*lambada.Function, 0, len(s.functions))
	for _, f := range s.functions {
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].Name < out[j].Name || out[i].Name == out[j].Name && out[i].Account < out[j].Account
	})
	return out, nil
}

// PutFunction stores a copy of f with compare-and-set on f.Revision.
func (s *Store) PutFunction(_ context.Context, f *lambada.Function) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, exists := s.functions[f.Key()]
	switch {
	case f.Revision == 0 && exists:
		return 0, lambada.Errorf(lambada.ECONFLICT, "function %s exists", f.Name)
	case f.Revision != 0 && (!exists || cur.Revision != f.Revision):
		return 0, lambada.Errorf(lambada.EPRECONDITION, "function %s changed", f.Name)
	}
	if s.functions == nil {
		s.functions = make(map[string]*lambada.Function)
	}
	s.revision++
	c := f.Clone()
	c.Revision = s.revision
	s.functions[f.Key()] = c
	return c.Revision, nil
}

// DeleteFunction removes the function whose AccountKey is name, or
// returns ENOTFOUND.
func (s *Store) DeleteFunction(_ context.Context, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.functions[name]; !ok {
		return lambada.Errorf(lambada.ENOTFOUND, "function %s not found", name)
	}
	delete(s.functions, name)
	return nil
}

// PutCode stores a copy of zip under key.
func (s *Store) PutCode(_ context.Context, key string, zip []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.code == nil {
		s.code = make(map[string]storedZip)
	}
	c, ok := s.code[key]
	if !ok {
		c.zip = append([]byte(nil), zip...)
	}
	c.stored = time.Now() // stored again: as new to the pruner
	s.code[key] = c
	return nil
}

// Code returns the archive stored under key, or ENOTFOUND.
func (s *Store) Code(_ context.Context, key string) ([]byte, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	c, ok := s.code[key]
	if !ok {
		return nil, lambada.Errorf(lambada.ENOTFOUND, "code %s not found", key)
	}
	return c.zip, nil
}

// StoredCode lists the archives.
func (s *Store) StoredCode(context.Context) ([]lambada.StoredCode, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]lambada.StoredCode, 0, len(s.code))
	for k, c := range s.code {
		out = append(out, lambada.StoredCode{Key: k, Stored: c.stored})
	}
	return out, nil
}

// DeleteCode removes the archive stored under key.
func (s *Store) DeleteCode(_ context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.code, key)
	return nil
}
