package storetest

import (
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/lambada-dev/lambada"
)

// LayerStore runs the conformance tests of lambada.LayerStore. open returns a
// new, empty store and arranges its closing with t.Cleanup.
func LayerStore(t *testing.T, open func(t *testing.T) lambada.LayerStore) {
	ctx := t.Context()

	t.Run("Numbering", func(t *testing.T) {
		s := open(t)
		for want := range int64(3) {
			lv := NewLayerVersion("alpha")
			lv.Version = 42 // ignored
			if got := MustPublish(t, s, lv); got != want+1 {
				t.Fatalf("publish %d returned version %d", want+1, got)
			}
			if lv.Version != 42 {
				t.Errorf("PublishLayerVersion changed its argument's Version to %d", lv.Version)
			}
		}
		for v := range int64(3) {
			if got := MustLayerVersion(t, s, "alpha", v+1); got.Name != "alpha" || got.Version != v+1 {
				t.Errorf("LayerVersion(alpha, %d) = %s:%d", v+1, got.Name, got.Version)
			}
		}
	})

	// Another account's layer of the same name (its AccountKey) is a layer
	// of its own, numbered from 1.
	t.Run("Accounts", func(t *testing.T) {
		s := open(t)
		MustPublish(t, s, NewLayerVersion("alpha"))
		MustPublish(t, s, NewLayerVersion("alpha"))
		if got := MustPublish(t, s, NewLayerVersion("111111111111/alpha")); got != 1 {
			t.Errorf("the other account's first alpha: version %d", got)
		}
		if got := MustLayerVersion(t, s, "111111111111/alpha", 1); got.Name != "111111111111/alpha" {
			t.Errorf("the other account's alpha: %s", got.Name)
		}
		if list := layerList(t, s); list != "[alpha:1 alpha:2 111111111111/alpha:1]" && list != "[111111111111/alpha:1 alpha:1 alpha:2]" {
			t.Errorf("LayerVersions: %s", list)
		}
	})

	t.Run("NumbersNotReused", func(t *testing.T) {
		s := open(t)
		MustPublish(t, s, NewLayerVersion("alpha"))
		MustPublish(t, s, NewLayerVersion("alpha"))
		MustDeleteLayerVersion(t, s, "alpha", 1)
		MustDeleteLayerVersion(t, s, "alpha", 2)
		if got := MustPublish(t, s, NewLayerVersion("alpha")); got != 3 {
			t.Errorf("after deleting every version: published %d, want 3", got)
		}
		MustDeleteLayerVersion(t, s, "alpha", 3) // the latest
		if got := MustPublish(t, s, NewLayerVersion("alpha")); got != 4 {
			t.Errorf("after deleting the latest: published %d, want 4", got)
		}
		if got, want := layerList(t, s), "[alpha:4]"; got != want {
			t.Errorf("LayerVersions = %s, want %s", got, want)
		}
	})

	t.Run("RoundTrip", func(t *testing.T) {
		full := NewLayerVersion("alpha")
		bare := NewLayerVersion("alpha")
		bare.Description = ""
		bare.LicenseInfo = nil
		bare.CompatibleRuntimes = nil
		bare.CompatibleArchitectures = nil
		empty := NewLayerVersion("alpha")
		empty.LicenseInfo = new(string)
		empty.CompatibleRuntimes = []string{}
		empty.CompatibleArchitectures = []string{}
		for _, tc := range []struct {
			name string
			lv   *lambada.LayerVersion
		}{
			{"Full", full},
			{"Nil", bare},
			{"Empty", empty},
		} {
			t.Run(tc.name, func(t *testing.T) {
				s := open(t)
				want := *tc.lv
				want.Version = MustPublish(t, s, tc.lv)
				wantSameLayer(t, MustLayerVersion(t, s, "alpha", want.Version), &want)
				list, err := s.LayerVersions(ctx)
				if err != nil || len(list) != 1 {
					t.Fatalf("LayerVersions = %d versions, %v", len(list), err)
				}
				wantSameLayer(t, list[0], &want)
			})
		}
	})

	t.Run("ArgumentNotKept", func(t *testing.T) {
		s := open(t)
		lv := NewLayerVersion("alpha")
		want := *NewLayerVersion("alpha")
		want.Version = MustPublish(t, s, lv)
		*lv.LicenseInfo = "changed by the caller" // after the write
		lv.CompatibleRuntimes[0] = "changed"
		lv.CompatibleArchitectures[0] = "changed"

		got := MustLayerVersion(t, s, "alpha", 1)
		wantSameLayer(t, got, &want)
		*got.LicenseInfo = "changed by a reader"
		got.CompatibleRuntimes[0] = "changed"
		wantSameLayer(t, MustLayerVersion(t, s, "alpha", 1), &want)
	})

	t.Run("NotFound", func(t *testing.T) {
		s := open(t)
		_, err := s.LayerVersion(ctx, "missing", 1)
		WantCode(t, err, lambada.ENOTFOUND)
		MustPublish(t, s, NewLayerVersion("alpha"))
		MustPublish(t, s, NewLayerVersion("alpha"))
		for _, v := range []int64{0, -1, 3} {
			_, err = s.LayerVersion(ctx, "alpha", v)
			WantCode(t, err, lambada.ENOTFOUND)
		}
		MustDeleteLayerVersion(t, s, "alpha", 1)
		_, err = s.LayerVersion(ctx, "alpha", 1)
		WantCode(t, err, lambada.ENOTFOUND)
		MustLayerVersion(t, s, "alpha", 2)
	})

	t.Run("DeleteMissing", func(t *testing.T) {
		s := open(t)
		MustDeleteLayerVersion(t, s, "missing", 1)
		MustPublish(t, s, NewLayerVersion("alpha"))
		MustDeleteLayerVersion(t, s, "alpha", 2)
		MustDeleteLayerVersion(t, s, "alpha", 0)
		MustDeleteLayerVersion(t, s, "alpha", 1)
		MustDeleteLayerVersion(t, s, "alpha", 1) // deleted twice
		if got := layerList(t, s); got != "[]" {
			t.Errorf("LayerVersions = %s, want none", got)
		}
	})

	t.Run("List", func(t *testing.T) {
		s := open(t)
		if got, err := s.LayerVersions(ctx); err != nil || len(got) != 0 {
			t.Fatalf("LayerVersions of an empty store = %d versions, %v", len(got), err)
		}
		// Versions sort as numbers (2 before 10), and names before their
		// versions ("alpha" before "alpha-b", although "alpha-b.v1" sorts
		// before "alpha.v1").
		MustPublish(t, s, NewLayerVersion("bravo"))
		MustPublish(t, s, NewLayerVersion("alpha-b"))
		for range 11 {
			MustPublish(t, s, NewLayerVersion("alpha"))
		}
		MustPublish(t, s, NewLayerVersion("bravo"))
		for _, v := range []int64{1, 3, 4, 5, 6, 7, 8} {
			MustDeleteLayerVersion(t, s, "alpha", v)
		}
		MustDeleteLayerVersion(t, s, "bravo", 1)
		want := "[alpha:2 alpha:9 alpha:10 alpha:11 alpha-b:1 bravo:2]"
		if got := layerList(t, s); got != want {
			t.Errorf("LayerVersions = %s, want %s", got, want)
		}
	})

	t.Run("Independent", func(t *testing.T) {
		s := open(t)
		MustPublish(t, s, NewLayerVersion("alpha"))
		MustPublish(t, s, NewLayerVersion("alpha"))
		if got := MustPublish(t, s, NewLayerVersion("bravo")); got != 1 {
			t.Errorf("first version of another layer = %d, want 1", got)
		}
		MustDeleteLayerVersion(t, s, "bravo", 1)
		if got := MustPublish(t, s, NewLayerVersion("alpha")); got != 3 {
			t.Errorf("third version of alpha = %d, want 3", got)
		}
		_, err := s.LayerVersion(ctx, "bravo", 2)
		WantCode(t, err, lambada.ENOTFOUND)
	})

	t.Run("ConcurrentPublish", func(t *testing.T) {
		s := open(t)
		const n = 8
		versions := make([]int64, n)
		codes := concurrently(n, func(i int) error {
			lv := NewLayerVersion("alpha")
			lv.Description = fmt.Sprint("publisher ", i)
			v, err := s.PublishLayerVersion(ctx, lv)
			versions[i] = v
			return err
		})
		if codes[""] != n {
			t.Fatalf("%d concurrent publishes: %v, want %d successes", n, codes, n)
		}
		sorted := slices.Sorted(slices.Values(versions))
		for i, v := range sorted {
			if v != int64(i+1) {
				t.Fatalf("%d concurrent publishes got versions %v, want 1 to %d", n, versions, n)
			}
		}
		for i, v := range versions {
			if got := MustLayerVersion(t, s, "alpha", v); got.Description != fmt.Sprint("publisher ", i) {
				t.Errorf("version %d, published by %d, holds %q", v, i, got.Description)
			}
		}
		if list, err := s.LayerVersions(ctx); err != nil || len(list) != n {
			t.Errorf("LayerVersions = %d versions, %v; want %d", len(list), err, n)
		}
	})
}

// NewLayerVersion returns a version of layer name with every field set but
// Version.
func NewLayerVersion(name string) *lambada.LayerVersion {
	license := "MIT"
	return &lambada.LayerVersion{
		Name:                    name,
		Description:             "shared helpers",
		LicenseInfo:             &license,
		CompatibleRuntimes:      []string{lambada.RuntimeProvidedAL2023, "python3.12"},
		CompatibleArchitectures: []string{"x86_64", "arm64"},
		CodeKey:                 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		CodeSize:                22,
		UnzippedSize:            1234,
		Created:                 time.Date(2025, 11, 25, 10, 0, 0, 123456789, time.UTC),
	}
}

// MustPublish publishes lv and returns its version number.
func MustPublish(tb testing.TB, s lambada.LayerStore, lv *lambada.LayerVersion) int64 {
	tb.Helper()
	v, err := s.PublishLayerVersion(tb.Context(), lv)
	if err != nil {
		tb.Fatalf("PublishLayerVersion(%s): %v", lv.Name, err)
	}
	return v
}

// MustLayerVersion returns version of layer name.
func MustLayerVersion(tb testing.TB, s lambada.LayerStore, name string, version int64) *lambada.LayerVersion {
	tb.Helper()
	lv, err := s.LayerVersion(tb.Context(), name, version)
	if err != nil {
		tb.Fatalf("LayerVersion(%s, %d): %v", name, version, err)
	}
	return lv
}

// MustDeleteLayerVersion deletes version of layer name.
func MustDeleteLayerVersion(tb testing.TB, s lambada.LayerStore, name string, version int64) {
	tb.Helper()
	if err := s.DeleteLayerVersion(tb.Context(), name, version); err != nil {
		tb.Fatalf("DeleteLayerVersion(%s, %d): %v", name, version, err)
	}
}

// wantSameLayer fails t unless got and want hold the same fields, telling a
// nil slice or pointer from an empty one and comparing Created as an instant.
func wantSameLayer(t *testing.T, got, want *lambada.LayerVersion) {
	t.Helper()
	if !got.Created.Equal(want.Created) {
		t.Errorf("Created = %v, want %v", got.Created, want.Created)
	}
	g := *got
	g.Created = want.Created
	if !reflect.DeepEqual(&g, want) {
		t.Errorf("stored layer version differs:\n got %s\nwant %s", describeLayer(got), describeLayer(want))
	}
}

func describeLayer(lv *lambada.LayerVersion) string {
	license := "<nil>"
	if lv.LicenseInfo != nil {
		license = fmt.Sprintf("%q", *lv.LicenseInfo)
	}
	return fmt.Sprintf("%s:%d %q license %s runtimes %#v architectures %#v code %s (%d, %d unzipped) %v",
		lv.Name, lv.Version, lv.Description, license, lv.CompatibleRuntimes, lv.CompatibleArchitectures,
		lv.CodeKey, lv.CodeSize, lv.UnzippedSize, lv.Created)
}

// layerList returns "[name:version …]" of s's LayerVersions, in their order.
func layerList(t *testing.T, s lambada.LayerStore) string {
	t.Helper()
	list, err := s.LayerVersions(t.Context())
	if err != nil {
		t.Fatalf("LayerVersions: %v", err)
	}
	out := make([]string, len(list))
	for i, lv := range list {
		out[i] = fmt.Sprintf("%s:%d", lv.Name, lv.Version)
	}
	return fmt.Sprint(out)
}
