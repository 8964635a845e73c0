// Package deploy finishes what CreateFunction, UpdateFunctionCode,
// UpdateFunctionConfiguration and PublishVersion start. Those answer at once
// with a configuration that is Pending (or whose last update is InProgress);
// a Preparer then makes its code ready on this node (unpacked into the code
// cache) and records the outcome in the store: Active or Successful, or
// Failed with a reason, each a new RevisionId (see lambada.Status).
//
// Nothing else waits: a transition takes as long as its work. The store is
// the only record of what is left to do, so a node that stops in between
// resumes the work when it opens again. The package owns its goroutines; it
// runs no functions and serves no requests.
package deploy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/google/uuid"
	"github.com/lambada-dev/lambada"
)

// maxWriteAttempts bounds the compare-and-set retries of one outcome.
const maxWriteAttempts = 10

// Store reads and writes function records (lambada.FunctionStore).
type Store interface {
	Function(ctx context.Context, name string) (*lambada.Function, error)
	Functions(ctx context.Context) ([]*lambada.Function, error)
	PutFunction(ctx context.Context, f *lambada.Function) (uint64, error)
}

// CodePather makes a code archive, and a function's layers merged, ready
// on this node (codecache.Cache).
type CodePather interface {
	Path(ctx context.Context, key string) (string, error)
	Opt(ctx context.Context, keys []string) (string, error)
}

// Preparer prepares the configurations that wait for it. Set its fields,
// then Open; Close stops it. Its methods are safe for concurrent use.
type Preparer struct {
	Functions Store
	Code      CodePather
	Logger    *slog.Logger // defaults to discarding

	// NewRevision returns a new RevisionId; uuid.NewString when nil.
	NewRevision func() string

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	running map[string]bool // functions being prepared
	again   map[string]bool // asked for again while being prepared
	idle    *sync.Cond      // signalled when a function's preparation ends
}

// Open starts the Preparer and resumes the work a previous run left: every
// stored function with a configuration waiting for preparation.
func (p *Preparer) Open(ctx context.Context) error {
	if p.Logger == nil {
		p.Logger = slog.New(slog.DiscardHandler)
	}
	if p.NewRevision == nil {
		p.NewRevision = uuid.NewString
	}
	p.ctx, p.cancel = context.WithCancel(context.WithoutCancel(ctx))
	p.running, p.again = map[string]bool{}, map[string]bool{}
	p.idle = sync.NewCond(&p.mu)
	fns, err := p.Functions.Functions(ctx)
	if err != nil {
		p.cancel()
		return fmt.Errorf("deploy: list functions: %w", err)
	}
	for _, f := range fns {
		if len(f.Preparing()) > 0 {
			p.Logger.Info("resuming preparation", "function", f.Key())
			p.Prepare(f.Key())
		}
	}
	return nil
}

// Close stops the work under way and waits for it. What it interrupts stays
// recorded as waiting, for the next Open.
func (p *Preparer) Close() error {
	if p.cancel != nil {
		p.cancel()
		p.wg.Wait()
	}
	return nil
}

// Prepare prepares whatever of the function whose AccountKey is name
// waits for it, in the
// background. Asked again while at work on it, it looks once more when done.
func (p *Preparer) Prepare(name string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ctx.Err() != nil {
		return
	}
	if p.running[name] {
		p.again[name] = true
		return
	}
	p.running[name] = true
	p.wg.Add(1)
	go p.run(name)
}

// Wait blocks until nothing of the function named name is being prepared by
// this Preparer (or ctx ends). The outcome is in the store.
func (p *Preparer) Wait(ctx context.Context, name string) error {
	stop := context.AfterFunc(ctx, func() {
		p.mu.Lock()
		p.idle.Broadcast()
		p.mu.Unlock()
	})
	defer stop()
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.running[name] && ctx.Err() == nil {
		p.idle.Wait()
	}
	return ctx.Err()
}

// run prepares the function named name until nobody asked again.
func (p *Preparer) run(name string) {
	defer p.wg.Done()
	for {
		if err := p.prepare(p.ctx, name); err != nil && p.ctx.Err() == nil {
			p.Logger.Error("prepare function", "function", name, "err", err)
		}
		p.mu.Lock()
		if p.again[name] && p.ctx.Err() == nil {
			delete(p.again, name)
			p.mu.Unlock()
			continue
		}
		delete(p.running, name)
		delete(p.again, name)
		p.idle.Broadcast()
		p.mu.Unlock()
		return
	}
}

// prepare makes the code of every configuration of the function named name
// that waits ready, then records the outcomes with compare-and-set.
func (p *Preparer) prepare(ctx context.Context, name string) error {
	outcomes := map[string]*lambada.Failure{}
	for range maxWriteAttempts {
		f, err := p.Functions.Function(ctx, name)
		if lambada.ErrorCode(err) == lambada.ENOTFOUND {
			return nil // deleted meanwhile
		} else if err != nil {
			return err
		}
		keys := f.Preparing()
		if len(keys) == 0 {
			return nil
		}
		for _, key := range keys {
			if _, done := outcomes[key]; done {
				continue
			}
			failure, err := p.ready(ctx, key, func(ctx context.Context) error {
				_, err := p.Code.Path(ctx, key)
				return err
			})
			// The layers of the configurations of key, merged.
			for _, c := range f.Configs() {
				if failure != nil || err != nil || !c.Preparing() || c.CodeKey() != key || len(c.Layers) == 0 {
					continue
				}
				failure, err = p.ready(ctx, lambada.OptKey(c.Layers), func(ctx context.Context) error {
					_, err := p.Code.Opt(ctx, lambada.LayerKeys(c.Layers))
					return err
				})
			}
			if err != nil {
				return err
			}
			outcomes[key] = failure
		}
		c := f.Clone()
		c.Prepared(func(key string) (*lambada.Failure, bool) {
			failure, ok := outcomes[key]
			return failure, ok
		}, p.NewRevision)
		_, err = p.Functions.PutFunction(ctx, c)
		switch lambada.ErrorCode(err) {
		case "":
			p.Logger.Info("function prepared", "function", name, "latest", c.Latest.Status.String())
			return nil
		case lambada.EPRECONDITION:
			continue // changed meanwhile: look again
		case lambada.ENOTFOUND:
			return nil
		}
		return fmt.Errorf("write function %s: %w", name, err)
	}
	return fmt.Errorf("function %s kept changing while its outcome was written", name)
}

// ready makes the code key ready on this node with make and returns the
// failure that ends the preparation of its configurations (nil when it is
// ready). The error is for work that was interrupted and must be resumed.
func (p *Preparer) ready(ctx context.Context, key string, make func(context.Context) error) (*lambada.Failure, error) {
	err := make(ctx)
	switch {
	case err == nil:
		return nil, nil
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return nil, err
	case lambada.ErrorCode(err) == lambada.EINVALID:
		p.Logger.Warn("code does not unpack", "key", key, "err", err)
		return lambada.FailureInvalidZip, nil
	}
	p.Logger.Error("prepare code", "key", key, "err", err)
	return lambada.FailureInternal, nil
}
