package jetstream

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"

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
	return readSecret(ctx, kv, name)
}

// readSecret returns the secret stored under name in kv, or stores a new
// one. Another node may have created it a moment ago, and the replica
// this node reads not have it yet: it reads again.
func readSecret(ctx context.Context, kv natsjs.KeyValue, name string) ([]byte, error) {
	var key []byte
	var err error
	if ctxErr := readLagging(ctx, func() bool {
		key, err = getOrCreate(ctx, kv, name)
		return key == nil && err == nil
	}); ctxErr != nil {
		return nil, ctxErr
	}
	if key == nil && err == nil {
		err = fmt.Errorf("jetstream: secret %s: created and not found", name)
	}
	return key, err
}

// getOrCreate returns the secret stored under name in kv, or stores a new
// one; neither (nil, nil) when another node created it and kv does not
// have it yet.
func getOrCreate(ctx context.Context, kv natsjs.KeyValue, name string) ([]byte, error) {
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
	return nil, nil
}
