package jetstream

import (
	"slices"
	"testing"

	"github.com/lambada-dev/lambada"
	"github.com/lambada-dev/lambada/internal/storetest"
	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"
)

func TestLayerStore(t *testing.T) {
	storetest.LayerStore(t, func(t *testing.T) lambada.LayerStore {
		return MustOpen(t, t.TempDir()).Layers
	})
}

func TestLayerStore_Restart(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	lv := storetest.NewLayerVersion("alpha")

	n := MustOpen(t, dir)
	storetest.MustPublish(t, n.Layers, lv)
	storetest.MustPublish(t, n.Layers, lv)
	storetest.MustDeleteLayerVersion(t, n.Layers, "alpha", 2)
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}

	n = MustOpen(t, dir)
	got := storetest.MustLayerVersion(t, n.Layers, "alpha", 1)
	if got.Description != lv.Description || *got.LicenseInfo != *lv.LicenseInfo || !got.Created.Equal(lv.Created) {
		t.Errorf("after reopening: %+v", got)
	}
	_, err := n.Layers.LayerVersion(ctx, "alpha", 2)
	storetest.WantCode(t, err, lambada.ENOTFOUND)
	// Numbering continues past the deleted version.
	if v := storetest.MustPublish(t, n.Layers, lv); v != 3 {
		t.Errorf("published %d after reopening, want 3", v)
	}
}

// Publishers on two connections, as on two nodes, never get the same number.
func TestLayerStore_TwoConnections(t *testing.T) {
	ctx := t.Context()
	n := MustOpen(t, t.TempDir())
	conn, err := nats.Connect("", nats.InProcessServer(n.server))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	js, err := natsjs.New(conn)
	if err != nil {
		t.Fatal(err)
	}
	kv, err := js.KeyValue(ctx, LayersBucket)
	if err != nil {
		t.Fatal(err)
	}
	stores := []*LayerStore{n.Layers, {kv: kv}}

	type result struct {
		version int64
		err     error
	}
	results := make(chan result)
	for i := range 8 {
		go func() {
			v, err := stores[i%2].PublishLayerVersion(ctx, storetest.NewLayerVersion("alpha"))
			results <- result{v, err}
		}()
	}
	var got []int64
	for range 8 {
		r := <-results
		if r.err != nil {
			t.Errorf("PublishLayerVersion: %v", r.err)
		}
		got = append(got, r.version)
	}
	slices.Sort(got)
	if !slices.Equal(got, []int64{1, 2, 3, 4, 5, 6, 7, 8}) {
		t.Errorf("versions %v, want 1 to 8", got)
	}
}

func TestLayerStore_InvalidName(t *testing.T) {
	ctx := t.Context()
	s := MustOpen(t, t.TempDir()).Layers
	for _, name := range []string{"", "a.v1", "a b", "a/b", "a*", "111111111111/a.v1", "1111/a"} {
		_, err := s.PublishLayerVersion(ctx, storetest.NewLayerVersion(name))
		storetest.WantCode(t, err, lambada.EINVALID)
		_, err = s.LayerVersion(ctx, name, 1)
		storetest.WantCode(t, err, lambada.ENOTFOUND)
		if err := s.DeleteLayerVersion(ctx, name, 1); err != nil {
			t.Errorf("DeleteLayerVersion(%q): %v", name, err)
		}
	}
	if list, err := s.LayerVersions(ctx); err != nil || len(list) != 0 {
		t.Errorf("LayerVersions = %d, %v", len(list), err)
	}
}
