// Package codecache keeps code archives durably in a lambada.CodeStore and
// unpacked, once per SHA-256 on each node, into read-only directories that
// execution environments run from.
//
// An archive is checked when it is stored: it must unpack, stay inside its
// directory (no absolute or climbing names, no symlinks leading out) and not
// exceed lambada.MaxUnzippedSize unpacked. Each archive is unpacked into a
// temporary directory inside Dir and renamed into place, so a directory named
// after a key is always complete. A node that lacks a directory (after its
// cache was wiped, or on another node) unpacks it from the store on first use.
//
// The package owns Dir. It does not run code. A Pruner removes what no
// function uses any more: unpacked archives at once, stored ones after a
// second look.
package codecache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/lambada-dev/lambada"
)

// Cache stores code archives and unpacks them on this node. Set its fields
// before first use; its methods are safe for concurrent use.
type Cache struct {
	// Dir holds one read-only directory per unpacked archive, named by its
	// key. Defaults to lambada-code in the system's temporary directory.
	Dir string

	// Store keeps the archives durably. Required.
	Store lambada.CodeStore

	// Logger defaults to discarding.
	Logger *slog.Logger

	mu      sync.Mutex
	flights map[string]*flight // unpacks under way, by key
	ready   sync.Map           // keys known to be unpacked: Path answers them without touching the disk
}

// flight is one unpack that concurrent callers for the same key share.
type flight struct {
	done chan struct{}
	err  error
}

var errNoStore = errors.New("codecache: Cache.Store is not set")

// StoreCode checks zip as far as its directory shows (it opens as a zip,
// its names stay inside the tree, its unpacked size is within the limit) and
// stores it under key, which must be its hex SHA-256. It does not unpack it:
// Path does, the first time it is asked. A bad archive is an EINVALID error
// with AWS's message; nothing is stored then.
func (c *Cache) StoreCode(ctx context.Context, key string, zip []byte) error {
	if c.Store == nil {
		return errNoStore
	}
	if err := checkKey(key); err != nil {
		return err
	}
	if sum := sha256.Sum256(zip); hex.EncodeToString(sum[:]) != key {
		return fmt.Errorf("codecache: key %s is not the SHA-256 of the archive", key)
	}
	if _, err := checkArchive(zip); err != nil {
		return err
	}
	if err := c.Store.PutCode(ctx, key, zip); err != nil {
		return fmt.Errorf("codecache: store %s: %w", key, err)
	}
	return nil
}

// Code returns the archive stored under key, or ENOTFOUND.
func (c *Cache) Code(ctx context.Context, key string) ([]byte, error) {
	if c.Store == nil {
		return nil, errNoStore
	}
	return c.Store.Code(ctx, key)
}

// Path returns the directory holding the unpacked archive key, unpacking it
// from the store first if this node has not yet. Concurrent callers for one
// key share one unpack. It returns ENOTFOUND when the store lacks the key.
func (c *Cache) Path(ctx context.Context, key string) (string, error) {
	if p, ok := c.ready.Load(key); ok { // every warm invocation asks
		return p.(string), nil
	}
	if err := checkKey(key); err != nil {
		return "", err
	}
	return c.made(ctx, key, c.unzipper(key))
}

// made returns Dir/key once fill has made it, on this call or an earlier
// one (of any caller).
func (c *Cache) made(ctx context.Context, key string, fill filler) (string, error) {
	p := filepath.Join(c.dir(), key)
	for {
		if err := c.ensure(ctx, key, fill, false); err != nil {
			return "", err
		}
		// Prune moves a directory away under c.mu: one still there now is
		// not being pruned, and one pruned meanwhile is made again.
		c.mu.Lock()
		there := isDir(p)
		if there {
			c.ready.Store(key, p)
		}
		c.mu.Unlock()
		if there {
			return p, nil
		}
	}
}

// filler writes a tree into an empty directory and returns the bytes of
// archives it read.
type filler func(ctx context.Context, dir string) (int, error)

// unzipper fills a directory with archive key from the store.
func (c *Cache) unzipper(key string) filler {
	return func(ctx context.Context, dir string) (int, error) {
		data, err := c.fetch(ctx, key)
		if err != nil {
			return 0, err
		}
		return len(data), unzip(ctx, dir, data)
	}
}

// Opt returns the directory holding the archives keys, in order, unpacked
// into one tree (a later one's files over an earlier one's): a function's
// layers as its /opt shows them. Its key is lambada.OptKey's; it is made
// once per node, and pruned like an archive.
func (c *Cache) Opt(ctx context.Context, keys []string) (string, error) {
	layers := make([]lambada.FunctionLayer, len(keys))
	for i, k := range keys {
		if err := checkKey(k); err != nil {
			return "", err
		}
		layers[i].CodeKey = k
	}
	key := lambada.OptKey(layers)
	if p, ok := c.ready.Load(key); ok {
		return p.(string), nil
	}
	return c.made(ctx, key, func(ctx context.Context, dir string) (int, error) {
		archives := make([][]byte, len(keys))
		n := 0
		for i, k := range keys {
			data, err := c.fetch(ctx, k)
			if err != nil {
				return n, err
			}
			archives[i], n = data, n+len(data)
		}
		return n, unzipAll(ctx, dir, archives)
	})
}

// fetch reads archive key from the store and checks its digest.
func (c *Cache) fetch(ctx context.Context, key string) ([]byte, error) {
	if c.Store == nil {
		return nil, errNoStore
	}
	b, err := c.Store.Code(ctx, key)
	if err != nil {
		return nil, err
	}
	if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != key {
		return nil, fmt.Errorf("codecache: archive %s from the store has SHA-256 %x", key, sum)
	}
	return b, nil
}

// ensure makes sure Dir/key exists, unpacking the archive that get returns
// unless another caller is already unpacking key, in which case it waits for
// that caller. A waiter whose leader failed tries itself when the failure was
// the leader's context, or when it has the archive in hand (retry).
func (c *Cache) ensure(ctx context.Context, key string, fill filler, retry bool) error {
	final := filepath.Join(c.dir(), key)
	for {
		if isDir(final) {
			return nil
		}
		c.mu.Lock()
		if f := c.flights[key]; f != nil {
			c.mu.Unlock()
			select {
			case <-f.done:
			case <-ctx.Done():
				return ctx.Err()
			}
			if f.err == nil {
				return nil
			}
			if ctx.Err() == nil && (retry || errors.Is(f.err, context.Canceled) || errors.Is(f.err, context.DeadlineExceeded)) {
				continue
			}
			return f.err
		}
		f := &flight{done: make(chan struct{})}
		if c.flights == nil {
			c.flights = make(map[string]*flight)
		}
		c.flights[key] = f
		c.mu.Unlock()

		f.err = c.unpack(ctx, key, final, fill)
		c.mu.Lock()
		delete(c.flights, key)
		c.mu.Unlock()
		close(f.done)
		return f.err
	}
}

// unpack unpacks the archive into a temporary directory in Dir and renames
// it to final.
func (c *Cache) unpack(ctx context.Context, key, final string, fill filler) error {
	if isDir(final) { // a flight that ended between our check and our lock
		return nil
	}
	start := time.Now()
	if err := os.MkdirAll(c.dir(), 0o755); err != nil {
		return fmt.Errorf("codecache: %w", err)
	}
	tmp, err := os.MkdirTemp(c.dir(), ".unpack-"+key[:16]+"-")
	if err != nil {
		return fmt.Errorf("codecache: %w", err)
	}
	n, err := fill(ctx, tmp)
	if err != nil {
		c.remove(tmp)
		return err
	}
	if err := os.Rename(tmp, final); err != nil {
		c.remove(tmp)
		if isDir(final) { // another process unpacked it first
			return nil
		}
		return fmt.Errorf("codecache: %w", err)
	}
	c.logger().Info("code unpacked", "key", key, "bytes", n, "duration", time.Since(start))
	return nil
}

func (c *Cache) remove(path string) {
	if err := RemoveAll(path); err != nil {
		c.logger().Error("remove unpack directory", "path", path, "err", err)
	}
}

func (c *Cache) dir() string {
	if c.Dir == "" {
		return filepath.Join(os.TempDir(), "lambada-code")
	}
	return c.Dir
}

func (c *Cache) logger() *slog.Logger {
	if c.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.Logger
}

// checkKey accepts a lower-case hex SHA-256, the only name Dir holds.
func checkKey(key string) error {
	if len(key) != 2*sha256.Size {
		return fmt.Errorf("codecache: malformed key %q", key)
	}
	for _, r := range key {
		if (r < '0' || r > '9') && (r < 'a' || r > 'f') {
			return fmt.Errorf("codecache: malformed key %q", key)
		}
	}
	return nil
}

func isDir(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}
