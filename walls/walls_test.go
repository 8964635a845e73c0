package walls

import "testing"

// testHierarchy finds a usable hierarchy of one version, independently of
// the one Detect found.
func testHierarchy(v2 bool) (*hierarchy, error) {
	w, err := Probe(v2)
	if err != nil {
		return nil, err
	}
	return w.h, nil
}

// envCgroup returns the cgroup directory that process pid is in, which must
// be an environment's cgroup of h.
func envCgroup(t *testing.T, h *hierarchy, pid int) string {
	t.Helper()
	dir, err := (&Host{h: h}).CgroupOf(pid)
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// mustBeIdle checks that h holds nothing once its environments are gone.
func mustBeIdle(t *testing.T, h *hierarchy) {
	t.Helper()
	if err := (&Host{h: h}).Idle(); err != nil {
		t.Error(err)
	}
}
