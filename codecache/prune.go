package codecache

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lambada-dev/lambada"
	"github.com/lambada-dev/lambada/internal/every"
)

// Prune removes the unpacked archives that keep does not want and that
// were unpacked before olderThan, and returns their keys. The age spares an
// archive unpacked for a function whose record keep has not seen yet;
// temporary directories of unpacks under way are never touched. A pruned
// archive stays in the store (a Pruner deletes it there later): Path
// unpacks it again if it is asked for meanwhile.
func (c *Cache) Prune(keep func(key string) bool, olderThan time.Time) ([]string, error) {
	entries, err := os.ReadDir(c.dir())
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	var removed []string
	var errs []error
	for _, e := range entries {
		key := e.Name()
		if !e.IsDir() || checkKey(key) != nil || keep(key) {
			continue
		}
		info, err := e.Info()
		if err != nil || !info.ModTime().Before(olderThan) {
			continue
		}
		// Moved away under c.mu, so that Path never hands out a directory
		// being removed, then removed outside it.
		c.mu.Lock()
		gone := ""
		if _, unpacking := c.flights[key]; !unpacking {
			c.ready.Delete(key)
			gone, err = os.MkdirTemp(c.dir(), ".prune-"+key[:16]+"-")
			if err == nil {
				err = os.Rename(filepath.Join(c.dir(), key), filepath.Join(gone, key))
			}
		}
		c.mu.Unlock()
		if gone == "" {
			continue
		}
		if err == nil {
			err = RemoveAll(gone)
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, key)
	}
	return removed, errors.Join(errs...)
}

// FunctionLister lists every function (lambada.FunctionStore).
type FunctionLister interface {
	Functions(ctx context.Context) ([]*lambada.Function, error)
}

// Defaults of a Pruner.
const (
	DefaultPruneEvery = time.Minute
	DefaultPruneAge   = 10 * time.Minute
	// DefaultPruneGrace outlasts the longest invocation (15 minutes) that
	// an environment of a configuration just dropped may still be running.
	DefaultPruneGrace = 16 * time.Minute
)

// LayerLister lists every layer version (lambada.LayerStore).
type LayerLister interface {
	LayerVersions(ctx context.Context) ([]*lambada.LayerVersion, error)
}

// Pruner prunes a Cache of what no function uses, every Every, until
// Close.
type Pruner struct {
	Cache     *Cache
	Functions FunctionLister
	Layers    LayerLister   // nil: no layers
	Every     time.Duration // DefaultPruneEvery when zero
	MinAge    time.Duration // archives unpacked more recently are kept; DefaultPruneAge when zero
	// Grace is how long an unpacked archive stays once no function uses
	// it; DefaultPruneGrace when zero.
	Grace  time.Duration
	Logger *slog.Logger

	stop   func() // ends the pruning goroutine
	passes atomic.Int64

	mu     sync.Mutex           // one pass at a time
	unused map[string]bool      // stored archives no function used at the last pass
	since  map[string]time.Time // unpacked archives no function uses, since when
}

// Passes is how many times the Pruner has looked for code to remove.
func (p *Pruner) Passes() int64 { return p.passes.Load() }

// defaults fills the unset fields.
func (p *Pruner) defaults() {
	if p.Every == 0 {
		p.Every = DefaultPruneEvery
	}
	if p.MinAge == 0 {
		p.MinAge = DefaultPruneAge
	}
	if p.Grace == 0 {
		p.Grace = DefaultPruneGrace
	}
	if p.Logger == nil {
		p.Logger = slog.New(slog.DiscardHandler)
	}
}

// Open starts pruning. The caller must Close the Pruner.
func (p *Pruner) Open() {
	p.defaults()
	p.stop = every.Start(context.Background(), p.Every, p.Pass)
}

// Close stops pruning and waits for a pass under way.
func (p *Pruner) Close() error {
	if p.stop != nil {
		p.stop()
	}
	return nil
}

// Pass looks once for code no function uses: it removes such unpacked
// archives once they have been unused for Grace (the store keeps them), and
// deletes from the store the
// archives that were stored over MinAge ago and that no function used at
// this pass nor at the one before. The second look spares an archive that
// a new function reuses between its upload (PutCode finds it there) and
// its record.
func (p *Pruner) Pass(ctx context.Context) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.defaults()
	fns, err := p.Functions.Functions(ctx)
	if err != nil {
		p.Logger.Error("prune code: list functions", "err", err)
		return
	}
	used := map[string]bool{}
	for _, f := range fns {
		for _, k := range f.CodeKeys() {
			used[k] = true
		}
	}
	if p.Layers != nil { // a layer version's archive stays until it is deleted
		lvs, err := p.Layers.LayerVersions(ctx)
		if err != nil {
			p.Logger.Error("prune code: list layers", "err", err)
			return
		}
		for _, lv := range lvs {
			used[lv.CodeKey] = true
		}
	}
	// An unpacked archive goes once it has been unused for Grace: an
	// environment of a configuration just dropped may still run in it.
	now := time.Now()
	since := map[string]time.Time{}
	removed, err := p.Cache.Prune(func(key string) bool {
		if used[key] {
			return true
		}
		t, ok := p.since[key]
		if !ok {
			t = now
		}
		since[key] = t
		return now.Sub(t) < p.Grace
	}, now.Add(-p.MinAge))
	p.since = since
	if err != nil {
		p.Logger.Error("prune code", "err", err)
	}
	if len(removed) > 0 {
		p.Logger.Info("unpacked code no function uses removed", "keys", removed)
	}
	p.pruneStore(ctx, used)
	p.passes.Add(1)
}

// pruneStore deletes the stored archives unused at this pass and the one
// before, stored before MinAge ago.
func (p *Pruner) pruneStore(ctx context.Context, used map[string]bool) {
	stored, err := p.Cache.Store.StoredCode(ctx)
	if err != nil {
		p.Logger.Error("prune code: list stored archives", "err", err)
		return
	}
	unused := map[string]bool{}
	var deleted []string
	old := time.Now().Add(-p.MinAge)
	for _, c := range stored {
		if used[c.Key] || !c.Stored.Before(old) {
			continue
		}
		if !p.unused[c.Key] {
			unused[c.Key] = true // deleted at the next pass if still unused
			continue
		}
		if err := p.Cache.Store.DeleteCode(ctx, c.Key); err != nil {
			p.Logger.Error("prune code: delete archive", "key", c.Key, "err", err)
			unused[c.Key] = true
			continue
		}
		deleted = append(deleted, c.Key)
	}
	p.unused = unused
	if len(deleted) > 0 {
		p.Logger.Info("stored code no function uses deleted", "keys", deleted)
	}
}

// Sweep removes the temporary directories of unpacks (and prunes) that a
// node which was killed left half done, and returns them. It must run
// before this node unpacks anything (a node has its data directory to
// itself).
func (c *Cache) Sweep() ([]string, error) {
	unpacks, err1 := filepath.Glob(filepath.Join(c.dir(), ".unpack-*"))
	prunes, err2 := filepath.Glob(filepath.Join(c.dir(), ".prune-*"))
	if err := errors.Join(err1, err2); err != nil {
		return nil, err
	}
	matches := append(unpacks, prunes...)
	var errs []error
	var removed []string
	for _, m := range matches {
		if err := RemoveAll(m); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, m)
	}
	return removed, errors.Join(errs...)
}
