package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/lambada-dev/lambada"
	"github.com/lambada-dev/lambada/invoke"
	"github.com/lambada-dev/lambada/jetstream"
	"github.com/lambada-dev/lambada/relay"
	"github.com/lambada-dev/lambada/sandbox"
)

// clustered reports whether the node shares its store with other nodes.
func (m *Main) clustered() bool { return m.Cluster != nil || m.NATS != "" }

// nodeName is this node's name in the cluster: NodeName, else its
// --cluster-listen, else the host's name and a random suffix kept in the
// data directory.
func (m *Main) nodeName() string {
	switch {
	case m.NodeName != "":
		return m.NodeName
	case m.Cluster != nil && m.Cluster.Node != "":
		return m.Cluster.Node
	case m.Cluster != nil:
		return m.Cluster.Listen
	}
	// The host's name and a suffix made once and kept in the data
	// directory: the same name across restarts, so that the others do not
	// count a new node at each (a majority of more nodes than there are).
	file := filepath.Join(m.Data, "node-name")
	if b, err := os.ReadFile(file); err == nil && len(bytes.TrimSpace(b)) > 0 {
		return string(bytes.TrimSpace(b))
	}
	host, _ := os.Hostname()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name := host + "-" + hex.EncodeToString(b)
	if err := os.WriteFile(file, []byte(name+"\n"), 0o644); err != nil {
		m.Logger.Warn("node name not kept: the next start has another", "file", file, "err", err)
	}
	return name
}

// relayListen is where this node takes invocations straight from the
// others: RelayListen, else with embedded servers clustered the host of
// their route listener (the cluster's network) on any port; with --nats,
// nowhere unless RelayListen says (the relay then goes over NATS only).
func (m *Main) relayListen() string {
	if m.RelayListen != "" || m.Cluster == nil {
		return m.RelayListen
	}
	host, _, err := net.SplitHostPort(m.Cluster.Listen)
	if err != nil {
		return ""
	}
	return net.JoinHostPort(host, "0")
}

// openCluster makes invoker one of the cluster's nodes: it hears which
// nodes are alive (their heartbeats), admits and provisions its share of
// every limit, hands invocations to the nodes that have warm environments
// or a share left, runs theirs, and applies the concurrency settings other
// nodes store.
func (m *Main) openCluster(ctx context.Context, invoker *invoke.Service) error {
	name := m.nodeName()
	// Until the others count it, it admits nothing, and runs nothing they
	// offer it, however early they do (a node started again under its
	// name is still in their views).
	m.limiter.SetMembers(lambada.NewMembers(name, []string{name}, time.Time{}))
	m.members = &jetstream.Members{Self: name, Every: m.HeartbeatEvery, Timeout: m.HeartbeatTimeout, Logger: m.Logger.With("component", "members"),
		Beat: func() jetstream.Heartbeat {
			return jetstream.Heartbeat{Ready: m.sandboxes.ReadyAll(), Over: m.limiter.Over(), Relay: m.relay.Addr()}
		},
		Changed: m.changed}
	m.relay = &relay.Relay{Conn: m.node.Conn(), Self: name, Runner: invoker, Warmth: m.sandboxes, Logger: m.Logger.With("component", "relay"),
		Listen: m.relayListen(), Addrs: m.members.RelayAddr}
	if err := m.relay.Open(); err != nil {
		return err
	}
	m.sandboxes.Idles = m.relay
	invoker.Peers, invoker.Warmth = m.relay, m.sandboxes
	invoker.Provisioner = clusterReady{m.sandboxes, m.members}
	m.applier = &applier{apply: invoker.Apply, prepare: m.preparer.Prepare, functions: m.node.Functions, logger: m.Logger.With("component", "apply")}
	m.applier.open()
	if err := m.node.OpenMembers(ctx, m.members); err != nil {
		return err
	}
	m.node.Functions.OnChange(m.applier.add)
	m.metrics.ClusterNodes(func() int { return len(m.members.Live()) })
	m.Logger.Info("joined the cluster", "node", name, "nodes", m.members.Live())
	return nil
}

// changed takes a new view of the cluster in (from OpenMembers on, when
// m.relay and m.applier are set).
func (m *Main) changed(v *lambada.Members) {
	m.fence(v)
	m.limiter.SetMembers(v)
	m.relay.SetMembers(v)
	m.applier.nodes(v.Nodes, v.Leased(time.Now()))
}

// fence stops what still runs on this node once its lease lapsed and its
// Fence came, and runs nothing more until it holds a lease again: the
// others may take its share over next, and what ran on would run beside
// what they admit. An invocation admitted before the lapse whose
// environment starts after the fence is refused, or stopped as it starts.
func (m *Main) fence(v *lambada.Members) {
	m.fencing.Lock()
	defer m.fencing.Unlock()
	now := time.Now()
	switch {
	case m.leaving:
	case v.Leased(now):
		m.sandboxes.Fence(false)
	case !v.Fence.IsZero() && !now.Before(v.Fence):
		if n := m.sandboxes.Fence(true); n > 0 {
			m.Logger.Warn("cut off from the cluster: stopped the environments still running, before the others take this node's share over", "stopped", n)
		}
	}
}

// leave fences this node for good as it leaves the cluster, before it
// tells the others, who take its share over at once: whatever view comes
// meanwhile, it runs nothing more.
func (m *Main) leave() {
	m.fencing.Lock()
	defer m.fencing.Unlock()
	m.leaving = true
	if n := m.sandboxes.Fence(true); n > 0 {
		m.Logger.Warn("stopping: stopped the environments still running, before leaving the cluster", "stopped", n)
	}
}

// clusterReady is a node's Provisioner whose Ready counts the ready
// environments of every live node.
type clusterReady struct {
	*sandbox.Manager
	members *jetstream.Members
}

func (c clusterReady) Ready(function, version string) (int, string) {
	n, failure := c.Manager.Ready(function, version)
	return n + c.members.Ready(lambada.VersionID(function, version)), failure
}

// applier applies in the background the concurrency settings of the
// functions other nodes change, and of every function with provisioned
// concurrency when nodes come or go (their shares change); and when a node
// leaves, it prepares the configurations that wait for their preparation
// (the node may have died preparing them).
type applier struct {
	apply     func(ctx context.Context, key string) error
	prepare   func(key string) // prepares what of the function waits for it, in the background
	functions interface {
		Functions(context.Context) ([]*lambada.Function, error)
	}
	logger *slog.Logger

	mu     sync.Mutex
	keys   map[string]bool
	live   []string
	leased bool
	kick   chan struct{}
	cancel context.CancelFunc
	done   chan struct{}
}

func (a *applier) open() {
	a.keys = map[string]bool{}
	a.kick = make(chan struct{}, 1)
	a.done = make(chan struct{})
	var ctx context.Context
	ctx, a.cancel = context.WithCancel(context.Background())
	go a.run(ctx)
}

func (a *applier) close() {
	if a.cancel != nil {
		a.cancel()
		<-a.done
	}
}

// add marks the function whose AccountKey is key to be applied.
func (a *applier) add(key string) {
	a.mu.Lock()
	a.keys[key] = true
	a.mu.Unlock()
	select {
	case a.kick <- struct{}{}:
	default:
	}
}

// nodes marks every function with provisioned concurrency or a
// reservation when the live nodes are not live as before, or the lease is
// held or lost (its shares of provisioned concurrency follow the lease).
func (a *applier) nodes(live []string, leased bool) {
	a.mu.Lock()
	same := slices.Equal(a.live, live) && a.leased == leased
	left := slices.ContainsFunc(a.live, func(n string) bool { return !slices.Contains(live, n) })
	a.live, a.leased = live, leased
	a.mu.Unlock()
	if same {
		return
	}
	fns, err := a.functions.Functions(context.Background())
	if err != nil {
		a.logger.Error("list functions", "err", err)
		return
	}
	for _, f := range fns {
		if len(f.ProvisionedVersions()) > 0 || f.ReservedConcurrency != nil {
			a.add(f.Key())
		}
		// The node that left may have been preparing it: this one does
		// (the store's compare-and-set lets one outcome win).
		if left && a.prepare != nil && len(f.Preparing()) > 0 {
			a.logger.Info("a node left: preparing what waits", "function", f.Key())
			a.prepare(f.Key())
		}
	}
}

func (a *applier) run(ctx context.Context) {
	defer close(a.done)
	for {
		select {
		case <-ctx.Done():
			return
		case <-a.kick:
		}
		a.mu.Lock()
		keys := a.keys
		a.keys = map[string]bool{}
		a.mu.Unlock()
		for key := range keys {
			if err := a.apply(ctx, key); err != nil && ctx.Err() == nil {
				a.logger.Error("apply concurrency settings", "function", key, "err", err)
			}
		}
	}
}
