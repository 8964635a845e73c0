package storetest

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"testing"

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
