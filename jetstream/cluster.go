package jetstream

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"
)

// Cluster clusters a node's embedded server with its peers' (their route
// listeners): together they are one JetStream cluster, each holding a copy
// of every bucket and stream (up to three).
type Cluster struct {
	Name   string   // the cluster's name, the same on every node ("lambada" when empty)
	Node   string   // this node's name, unique in the cluster (its Listen when empty)
	Listen string   // host:port of this node's route listener
	Peers  []string // host:port of the other nodes' route listeners
}

// DefaultClusterName is the cluster's name when none is given.
const DefaultClusterName = "lambada"

// replicas is how many copies of each bucket and stream a cluster of this
// node and its peers keeps: three, or as many nodes as there are.
func (c *Cluster) replicas() int { return min(3, 1+len(c.Peers)) }

// options sets o up for the cluster.
func (c *Cluster) options(o *server.Options) error {
	host, port, err := splitHostPort(c.Listen)
	if err != nil {
		return fmt.Errorf("jetstream: cluster listen %q: %w", c.Listen, err)
	}
	o.ServerName = c.Node
	if o.ServerName == "" {
		o.ServerName = c.Listen
	}
	o.Cluster = server.ClusterOpts{Name: c.Name, Host: host, Port: port}
	// A clustered server starts its routes only once its client listener
	// is open: one on loopback, on a port of the kernel's choosing, that
	// takes only this node's token.
	o.DontListen, o.Host, o.Port = false, "127.0.0.1", server.RANDOM_PORT
	token := make([]byte, 32)
	_, _ = rand.Read(token)
	o.Authorization = hex.EncodeToString(token)
	if o.Cluster.Name == "" {
		o.Cluster.Name = DefaultClusterName
	}
	for _, p := range c.Peers {
		if _, _, err := splitHostPort(p); err != nil {
			return fmt.Errorf("jetstream: peer %q: %w", p, err)
		}
		o.Routes = append(o.Routes, &url.URL{Scheme: "nats-route", Host: p})
	}
	return nil
}

func splitHostPort(hp string) (string, int, error) {
	host, p, err := net.SplitHostPort(hp)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil || port <= 0 || port > 65535 {
		return "", 0, errors.New("want HOST:PORT")
	}
	return host, port, nil
}

// connectOptions are the options of every connection of a node.
func (n *Node) connectOptions(cfg Config) []nats.Option {
	opts := []nats.Option{nats.Name("lambada"), nats.MaxReconnects(-1),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subject := ""
			if sub != nil {
				subject = sub.Subject
			}
			n.logger.Error("nats async error", "subject", subject, "err", err)
		})}
	if cfg.Credentials != "" {
		opts = append(opts, nats.UserCredentials(cfg.Credentials))
	}
	return opts
}

// waitForJetStream waits until JetStream answers: a cluster has elected
// its meta leader, which takes a quorum of its nodes.
func (n *Node) waitForJetStream(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	for {
		// A request made before there is a leader goes unanswered: each
		// attempt waits a second at most.
		attempt, cancelAttempt := context.WithTimeout(ctx, time.Second)
		_, err := n.js.AccountInfo(attempt)
		cancelAttempt()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("jetstream: not available after %s (a cluster needs most of its nodes): %w", readyTimeout, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// creating is a JetStream whose creations of buckets and streams are tried
// again, a second each, until their context ends (or for readyTimeout):
// while a cluster is forming or electing a stream's leader, such requests
// go unanswered.
type creating struct{ natsjs.JetStream }

func retry[T any](ctx context.Context, create func(context.Context) (T, error)) (T, error) {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	for {
		attempt, cancelAttempt := context.WithTimeout(ctx, 2*time.Second)
		v, err := create(attempt)
		cancelAttempt()
		if err == nil || ctx.Err() != nil || !electing(err) {
			return v, err
		}
	}
}

// electing reports whether err is what a request gets while a cluster, or
// a stream of it, has no leader yet.
func electing(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) || errors.Is(err, nats.ErrNoResponders) ||
		errors.Is(err, natsjs.ErrNoStreamResponse) || errors.Is(err, natsjs.ErrJetStreamNotEnabled) ||
		strings.Contains(err.Error(), "temporarily unavailable") || strings.Contains(err.Error(), "insufficient resources") ||
		strings.Contains(err.Error(), "no suitable peers") || strings.Contains(err.Error(), "no responders")
}

func (c creating) CreateOrUpdateKeyValue(ctx context.Context, cfg natsjs.KeyValueConfig) (natsjs.KeyValue, error) {
	return retry(ctx, func(ctx context.Context) (natsjs.KeyValue, error) {
		return c.JetStream.CreateOrUpdateKeyValue(ctx, cfg)
	})
}

func (c creating) CreateOrUpdateObjectStore(ctx context.Context, cfg natsjs.ObjectStoreConfig) (natsjs.ObjectStore, error) {
	return retry(ctx, func(ctx context.Context) (natsjs.ObjectStore, error) {
		return c.JetStream.CreateOrUpdateObjectStore(ctx, cfg)
	})
}

func (c creating) CreateOrUpdateStream(ctx context.Context, cfg natsjs.StreamConfig) (natsjs.Stream, error) {
	return retry(ctx, func(ctx context.Context) (natsjs.Stream, error) { return c.JetStream.CreateOrUpdateStream(ctx, cfg) })
}
