package storetest

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"testing"
	"time"

	"github.com/lambada-dev/lambada"
)

// CodeStore runs the conformance tests of lambada.CodeStore. open returns a
// new, empty store and arranges its closing with t.Cleanup.
func CodeStore(t *testing.T, open func(t *testing.T) lambada.CodeStore) {
	ctx := t.Context()

	t.Run("RoundTrip", func(t *testing.T) {
		s := open(t)
		zip := []byte("PK\x05\x06" + string(make([]byte, 18)))
		key := Key(zip)
		if err := s.PutCode(ctx, key, zip); err != nil {
			t.Fatalf("PutCode: %v", err)
		}
		MustCode(t, s, key, zip)
	})

	t.Run("NotFound", func(t *testing.T) {
		s := open(t)
		_, err := s.Code(ctx, Key([]byte("never stored")))
		WantCode(t, err, lambada.ENOTFOUND)
	})

	t.Run("PutTwice", func(t *testing.T) {
		s := open(t)
		zip := []byte("the same archive")
		key := Key(zip)
		for range 2 {
			if err := s.PutCode(ctx, key, zip); err != nil {
				t.Fatalf("PutCode: %v", err)
			}
		}
		MustCode(t, s, key, zip)
	})

	t.Run("ListAndDelete", func(t *testing.T) {
		s := open(t)
		before := time.Now().Add(-time.Second)
		a, b := []byte("archive a"), []byte("archive b")
		for _, zip := range [][]byte{a, b} {
			if err := s.PutCode(ctx, Key(zip), zip); err != nil {
				t.Fatalf("PutCode: %v", err)
			}
		}
		listed := func() map[string]time.Time {
			stored, err := s.StoredCode(ctx)
			if err != nil {
				t.Fatalf("StoredCode: %v", err)
			}
			m := map[string]time.Time{}
			for _, c := range stored {
				m[c.Key] = c.Stored
			}
			return m
		}
		got := listed()
		if len(got) != 2 || got[Key(a)].Before(before) || got[Key(b)].After(time.Now()) {
			t.Fatalf("StoredCode = %v", got)
		}
		if err := s.DeleteCode(ctx, Key(a)); err != nil {
			t.Fatalf("DeleteCode: %v", err)
		}
		if err := s.DeleteCode(ctx, Key(a)); err != nil {
			t.Fatalf("DeleteCode of a deleted archive: %v", err)
		}
		_, err := s.Code(ctx, Key(a))
		WantCode(t, err, lambada.ENOTFOUND)
		MustCode(t, s, Key(b), b)
		if got := listed(); len(got) != 1 || got[Key(b)].IsZero() {
			t.Fatalf("after DeleteCode: %v", got)
		}
		// Stored again: its time is renewed.
		first := listed()[Key(b)]
		if err := s.PutCode(ctx, Key(b), b); err != nil {
			t.Fatalf("PutCode: %v", err)
		}
		if again := listed()[Key(b)]; !again.After(first) {
			t.Fatalf("stored again at %v, first at %v: not renewed", again, first)
		}
		// Stored again after its deletion: back in the list.
		if err := s.PutCode(ctx, Key(a), a); err != nil {
			t.Fatalf("PutCode: %v", err)
		}
		MustCode(t, s, Key(a), a)
	})

	t.Run("Large", func(t *testing.T) {
		s := open(t)
		zip := make([]byte, 3<<20+17) // several chunks of an object store
		rand.Read(zip)
		key := Key(zip)
		if err := s.PutCode(ctx, key, zip); err != nil {
			t.Fatalf("PutCode: %v", err)
		}
		MustCode(t, s, key, zip)
	})
}

// Key returns the hex SHA-256 of zip, the key a code archive is stored under.
func Key(zip []byte) string {
	sum := sha256.Sum256(zip)
	return hex.EncodeToString(sum[:])
}

// MustCode fails tb unless the archive stored under key is want.
func MustCode(tb testing.TB, s lambada.CodeStore, key string, want []byte) {
	tb.Helper()
	got, err := s.Code(tb.Context(), key)
	if err != nil {
		tb.Fatalf("Code(%s): %v", key, err)
	}
	if !bytes.Equal(got, want) {
		tb.Fatalf("Code(%s) = %d bytes, not the %d stored", key, len(got), len(want))
	}
}
