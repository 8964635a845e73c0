package jetstream

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	natsjs "github.com/nats-io/nats.go/jetstream"
)

// SecretsBucket holds keys every node of a cluster must share.
const SecretsBucket = "lambada_secrets"

// secretSize is the size of every secret, in bytes.
const secretSize = 32

// Secret returns the 32-byte key stored under name, creating it on first
// use; nodes that race to create it all end up with the one stored first.
// In a cluster still electing the bucket's leader it tries again.
func (n *Node) Secret(ctx context.Context, name string) ([]byte, error) {
	return retry(ctx, func(ctx context.Context) ([]byte, error) { return n.secret(ctx, name) })
}

func (n *Node) secret(ctx context.Context, name string) ([]byte, error) {
	kv, err := n.js.CreateOrUpdateKeyValue(ctx, natsjs.KeyValueConfig{
		Bucket:      SecretsBucket,
		Description: "Lambada keys shared by every node",
		History:     1,
		Storage:     natsjs.FileStorage,
		Replicas:    n.replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("jetstream: bucket %s: %w", SecretsBucket, err)
	}
	// Another node may have created it a moment ago, and a replica this
	// node reads not have it yet: read again, for followerLag at most.
	deadline := time.Now().Add(followerLag)
	for first := true; first || time.Now().Before(deadline); first = false {
		if !first {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(50 * time.Millisecond):
			}
		}
		e, err := kv.Get(ctx, name)
		if err == nil {
			if len(e.Value()) != secretSize {
				return nil, fmt.Errorf("jetstream: secret %s holds %d bytes, not %d", name, len(e.Value()), secretSize)
			}
			return e.Value(), nil
		} else if !errors.Is(err, natsjs.ErrKeyNotFound) {
			return nil, fmt.Errorf("jetstream: secret %s: %w", name, err)
		}
		key := make([]byte, secretSize)
		if _, err := rand.Read(key); err != nil {
			return nil, err
		}
		if _, err := kv.Create(ctx, name, key); err == nil {
			return key, nil
		} else if !errors.Is(err, natsjs.ErrKeyExists) {
			return nil, fmt.Errorf("jetstream: secret %s: %w", name, err)
		}
	}
	return nil, fmt.Errorf("jetstream: secret %s: created and not found", name)
}
