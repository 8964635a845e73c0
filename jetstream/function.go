package jetstream

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"

	"github.com/lambada-dev/lambada"
	natsjs "github.com/nats-io/nats.go/jetstream"
)

var _ lambada.FunctionStore = (*FunctionStore)(nil)

// deleteRetries bounds how often DeleteFunction retries when the record
// changes between reading its revision and deleting it.
const deleteRetries = 10

// FunctionStore keeps function records in a JetStream key-value bucket (key:
// the function's name; value: the JSON of lambada.Function; Revision: the
// entry's revision) and serves reads from memory. A watcher goroutine keeps
// the memory current with every node's writes; this store's own writes are
// applied at once, so a client reads its own writes.
type FunctionStore struct {
	kv     natsjs.KeyValue
	logger *slog.Logger

	mu      sync.RWMutex
	cache   map[string]cached
	changed func(name string) // hears changes the watcher applies

	cancel context.CancelFunc
	done   chan struct{} // closed when the watcher has stopped
}

// cached is the newest state the store knows of one key. fn is nil once the
// function is deleted; rev then says that entries up to rev are stale.
type cached struct {
	fn  *lambada.Function
	rev uint64
}

// openFunctionStore starts watching kv and returns once every stored record
// is in memory. The caller must Close the store.
func openFunctionStore(ctx context.Context, kv natsjs.KeyValue, logger *slog.Logger) (*FunctionStore, error) {
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	w, err := kv.WatchAll(wctx)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("jetstream: watch %s: %w", kv.Bucket(), err)
	}
	s := &FunctionStore{
		kv:     kv,
		logger: logger,
		cache:  make(map[string]cached),
		cancel: cancel,
		done:   make(chan struct{}),
	}
	ready := make(chan struct{})
	go s.watch(wctx, w, ready)
	ctx, cancelLoad := context.WithTimeout(ctx, readyTimeout)
	defer cancelLoad()
	select {
	case <-ready:
		return s, nil
	case <-s.done:
		cancel()
		return nil, fmt.Errorf("jetstream: watcher of %s stopped while loading", kv.Bucket())
	case <-ctx.Done():
		s.Close()
		return nil, ctx.Err()
	}
}

// Close stops the watcher and waits for it. Reads still answer from memory
// afterwards, but no longer see other nodes' writes.
func (s *FunctionStore) Close() error {
	s.cancel()
	<-s.done
	return nil
}

// watch applies the bucket's entries until ctx is done or the connection
// closes. It closes ready once the initial values have been applied.
func (s *FunctionStore) watch(ctx context.Context, w natsjs.KeyWatcher, ready chan<- struct{}) {
	defer close(s.done)
	defer func() {
		if err := w.Stop(); err != nil {
			s.logger.Debug("stop function watcher", "err", err)
		}
		// The subscription closes the channel once its callback, which may be
		// blocked on a full channel, has returned.
		for range w.Updates() {
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case e, ok := <-w.Updates():
			switch {
			case !ok:
				if ctx.Err() == nil { // else the subscription ended with ctx
					s.logger.Error("function watcher closed", "bucket", s.kv.Bucket())
				}
				return
			case e == nil: // initial values done
				if ready != nil {
					close(ready)
					ready = nil
				}
			default:
				s.apply(e)
			}
		}
	}
}

// apply records a watched entry unless the cache already knows a newer one.
func (s *FunctionStore) apply(e natsjs.KeyValueEntry) {
	var f *lambada.Function
	if e.Operation() == natsjs.KeyValuePut {
		f = new(lambada.Function)
		if err := json.Unmarshal(e.Value(), f); err != nil {
			s.logger.Error("undecodable function record", "name", e.Key(), "revision", e.Revision(), "err", err)
			return
		}
		f.Account, f.Name = lambada.SplitAccountKey(e.Key())
		f.Revision = e.Revision()
	}
	if s.set(e.Key(), f, e.Revision()) {
		s.mu.RLock()
		changed := s.changed
		s.mu.RUnlock()
		if changed != nil {
			changed(e.Key())
		}
	}
}

// set caches f (nil: deleted) for name at rev if rev is newer than what the
// cache holds, and reports whether it was.
func (s *FunctionStore) set(name string, f *lambada.Function, rev uint64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.cache[name]; ok && c.rev >= rev {
		return false
	}
	s.cache[name] = cached{fn: f, rev: rev}
	return true
}

// OnChange makes changed hear, from the watcher's goroutine, the name of
// every function another node changed or deleted (and of some this node
// did). It must not block.
func (s *FunctionStore) OnChange(changed func(name string)) {
	s.mu.Lock()
	s.changed = changed
	s.mu.Unlock()
}

// Function returns the function named name from memory, or ENOTFOUND.
func (s *FunctionStore) Function(_ context.Context, name string) (*lambada.Function, error) {
	s.mu.RLock()
	c := s.cache[name]
	s.mu.RUnlock()
	if c.fn == nil {
		return nil, notFound(name)
	}
	return c.fn, nil
}

// Functions returns every function from memory, sorted by name.
func (s *FunctionStore) Functions(context.Context) ([]*lambada.Function, error) {
	s.mu.RLock()
	out := make([]*lambada.Function, 0, len(s.cache))
	for _, c := range s.cache {
		if c.fn != nil {
			out = append(out, c.fn)
		}
	}
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b *lambada.Function) int {
		return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(a.Account, b.Account))
	})
	return out, nil
}

// PutFunction creates (f.Revision zero) or updates (compare-and-set on
// f.Revision) the record of f and caches a copy of it. f is not modified.
func (s *FunctionStore) PutFunction(ctx context.Context, f *lambada.Function) (uint64, error) {
	c := f.Clone()
	key := f.Key()
	b, err := json.Marshal(c)
	if err != nil {
		return 0, fmt.Errorf("jetstream: encode function %s: %w", f.Name, err)
	}
	var rev uint64
	if f.Revision == 0 {
		rev, err = s.kv.Create(ctx, key, b)
		if errors.Is(err, natsjs.ErrKeyExists) || isWrongLastSequence(err) {
			return 0, lambada.Errorf(lambada.ECONFLICT, "function %s exists", f.Name)
		}
	} else {
		rev, err = s.kv.Update(ctx, key, b, f.Revision)
		if errors.Is(err, natsjs.ErrKeyRevisionMismatch) || isWrongLastSequence(err) {
			return 0, lambada.Errorf(lambada.EPRECONDITION, "function %s changed", f.Name)
		}
	}
	if errors.Is(err, natsjs.ErrInvalidKey) {
		return 0, lambada.Errorf(lambada.EINVALID, "invalid function name %q", f.Name)
	} else if err != nil {
		return 0, fmt.Errorf("jetstream: put function %s: %w", f.Name, err)
	}
	c.Revision = rev
	s.set(key, c, rev)
	return rev, nil
}

// DeleteFunction purges the record of the function named name, or returns
// ENOTFOUND. The delete is unconditional: when the record changes under it,
// it reads the new revision and tries again.
func (s *FunctionStore) DeleteFunction(ctx context.Context, name string) error {
	for range deleteRetries {
		e, err := s.kv.Get(ctx, name)
		if errors.Is(err, natsjs.ErrKeyNotFound) || errors.Is(err, natsjs.ErrInvalidKey) {
			return notFound(name)
		} else if err != nil {
			return fmt.Errorf("jetstream: get function %s: %w", name, err)
		}
		err = s.kv.Purge(ctx, name, natsjs.LastRevision(e.Revision()))
		if errors.Is(err, natsjs.ErrKeyRevisionMismatch) || isWrongLastSequence(err) {
			continue
		} else if err != nil {
			return fmt.Errorf("jetstream: delete function %s: %w", name, err)
		}
		// The purge marker's revision is not returned, but it is above
		// e.Revision() and no other entry of name lies between them.
		s.set(name, nil, e.Revision()+1)
		return nil
	}
	return fmt.Errorf("jetstream: delete function %s: changed %d times while deleting", name, deleteRetries)
}

func notFound(name string) error {
	return lambada.Errorf(lambada.ENOTFOUND, "function %s not found", name)
}

// isWrongLastSequence reports whether err is JetStream's compare-and-set
// failure, which Create and Update do not always translate.
func isWrongLastSequence(err error) bool {
	var apiErr *natsjs.APIError
	return errors.As(err, &apiErr) &&
		(apiErr.ErrorCode == natsjs.JSErrCodeStreamWrongLastSequence ||
			apiErr.ErrorCode == natsjs.JSErrCodeStreamWrongLastSequenceConstant)
}
