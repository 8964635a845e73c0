package jetstream

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/lambada-dev/lambada"
	natsjs "github.com/nats-io/nats.go/jetstream"
)

var _ lambada.CodeStore = (*CodeStore)(nil)

// CodeStore keeps code archives in a JetStream object store, one object per
// archive, named by the hex SHA-256 of its bytes. The object store checks
// each object's digest as it reads it back.
type CodeStore struct {
	obj natsjs.ObjectStore
	// replicated: reads may come from a follower a moment behind the
	// write, and writes meet a stream electing its leader: both are tried
	// again for a while.
	replicated bool
}

// followerLag bounds how long a replicated store's read of what is not
// there is tried again.
const followerLag = 5 * time.Second

// readLagging calls read, and again every 50 ms while it says so, for
// followerLag at most: in a cluster, what another node wrote a moment ago
// may not be in the replica this node reads yet. It returns ctx's error
// when ctx ends first.
func readLagging(ctx context.Context, read func() (again bool)) error {
	deadline := time.Now().Add(followerLag)
	for read() && time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return nil
}

// PutCode stores zip under key unless an object of that name and size is
// already there: the key is the archive's SHA-256, so it holds the same
// bytes. It then only renews the object's time, which tells the pruner the
// archive was just stored again.
func (s *CodeStore) PutCode(ctx context.Context, key string, zip []byte) error {
	if !s.replicated {
		return s.putCode(ctx, key, zip)
	}
	_, err := retry(ctx, func(ctx context.Context) (struct{}, error) { return struct{}{}, s.putCode(ctx, key, zip) })
	return err
}

func (s *CodeStore) putCode(ctx context.Context, key string, zip []byte) error {
	info, err := s.obj.GetInfo(ctx, key)
	switch {
	case err == nil && !info.Deleted && info.Size == uint64(len(zip)):
		if err := s.obj.UpdateMeta(ctx, key, natsjs.ObjectMeta{Name: key}); err != nil {
			return fmt.Errorf("jetstream: renew code %s: %w", key, err)
		}
		return nil
	case err != nil && !errors.Is(err, natsjs.ErrObjectNotFound):
		return fmt.Errorf("jetstream: code %s: %w", key, err)
	}
	if _, err := s.obj.PutBytes(ctx, key, zip); err != nil {
		return fmt.Errorf("jetstream: put code %s: %w", key, err)
	}
	return nil
}

// Code returns the archive stored under key, or ENOTFOUND.
func (s *CodeStore) Code(ctx context.Context, key string) ([]byte, error) {
	var b []byte
	var err error
	if readLagging(ctx, func() bool {
		b, err = s.code(ctx, key)
		return s.replicated && (lambada.ErrorCode(err) == lambada.ENOTFOUND || err != nil && electing(err))
	}) != nil {
		return nil, err
	}
	return b, err
}

func (s *CodeStore) code(ctx context.Context, key string) ([]byte, error) {
	b, err := s.obj.GetBytes(ctx, key)
	if errors.Is(err, natsjs.ErrObjectNotFound) || errors.Is(err, natsjs.ErrNameRequired) {
		return nil, lambada.Errorf(lambada.ENOTFOUND, "code %s not found", key)
	} else if err != nil {
		return nil, fmt.Errorf("jetstream: get code %s: %w", key, err)
	}
	return b, nil
}

// StoredCode lists the archives, with the time each object was written.
func (s *CodeStore) StoredCode(ctx context.Context) ([]lambada.StoredCode, error) {
	infos, err := s.obj.List(ctx)
	if errors.Is(err, natsjs.ErrNoObjectsFound) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("jetstream: list code: %w", err)
	}
	out := make([]lambada.StoredCode, 0, len(infos))
	for _, info := range infos {
		if !info.Deleted {
			out = append(out, lambada.StoredCode{Key: info.Name, Stored: info.ModTime})
		}
	}
	return out, nil
}

// DeleteCode removes the archive stored under key.
func (s *CodeStore) DeleteCode(ctx context.Context, key string) error {
	if err := s.obj.Delete(ctx, key); err != nil && !errors.Is(err, natsjs.ErrObjectNotFound) {
		return fmt.Errorf("jetstream: delete code %s: %w", key, err)
	}
	return nil
}
