// Package jetstream keeps Lambada's durable state in NATS JetStream: function
// records in a key-value bucket (FunctionStore), code archives in an object
// store (CodeStore), layer versions in another key-value bucket (LayerStore),
// asynchronous events in a work-queue stream (EventQueue), SQS queues in
// streams (Queues), log groups and their events (Logs) and keys every node
// shares (Secret). Open starts an embedded nats-server in-process, with no
// listening port, storing under a directory, so that a fresh machine needs
// nothing else; with Config.Cluster the embedded servers of several nodes
// form one JetStream cluster (a loopback client port then opens, for this
// node's token only), and with Config.URL a node uses a NATS cluster of
// its own instead. Every bucket and stream has Config.Replicas copies. A
// node that ran alone and starts in a cluster copies its store into the
// cluster (adopt.go). Members (members.go) tells which nodes are alive.
//
// It owns the embedded server, the client connection, the buckets and the
// in-memory cache of function records that the invocation hot path reads. It
// does not unpack code (package codecache does) and knows nothing of HTTP.
package jetstream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"
)

// Names of the buckets Lambada keeps.
const (
	FunctionsBucket = "lambada_functions" // key-value: function name → JSON of lambada.Function
	CodeBucket      = "lambada_code"      // objects: hex SHA-256 → zip archive
	LayersBucket    = "lambada_layers"    // key-value: layer name and version → JSON of lambada.LayerVersion
)

// readyTimeout bounds how long Open waits for the embedded server, and for
// the function records to load. Recovering a large store takes longer than a
// fresh start (about 28 ms).
const readyTimeout = 30 * time.Second

// maxPayload is the largest message the embedded server takes: an Event
// invocation or a queue message (1 MiB each) with its headers.
const maxPayload = 4 << 20

// Config says where a Node keeps its data.
type Config struct {
	// Dir holds the embedded server's JetStream storage (in Dir/nats). It is
	// created if missing; reopening the same Dir recovers every write.
	Dir string

	// Logger receives the store's and the embedded server's messages.
	// Defaults to discarding them.
	Logger *slog.Logger

	// EventBytes is how many bytes of accepted asynchronous events the
	// queue may hold; zero means DefaultEventCap.
	EventBytes int64
	// AckWait is how long a delivered event may go without news before it
	// is delivered again; zero means DefaultAckWait.
	AckWait time.Duration

	// SyncAlways syncs every write to disk before the store acknowledges
	// it, so that a power failure loses nothing acknowledged; writes are
	// then several times slower. Without it the store writes each message
	// before acknowledging it (a crash of the process loses nothing) and
	// syncs every two minutes (nats-server's default).
	SyncAlways bool

	// LogBytes is how many bytes of log events the store keeps, the
	// oldest dropped first; zero means DefaultLogBytes.
	LogBytes int64

	// Cluster, when set, clusters the embedded server with its peers'.
	Cluster *Cluster
	// URL, when set, connects to an existing NATS server or cluster with
	// JetStream (nats://host:port, several separated by commas) instead of
	// embedding one; Credentials is then its creds file ("": none).
	URL, Credentials string
	// Replicas is how many copies of each bucket and stream are kept:
	// zero means one, or with Cluster as many nodes as there are, up to 3.
	Replicas int
}

// Node is an embedded NATS server with JetStream, a connection to it, and the
// stores built on it.
type Node struct {
	Functions *FunctionStore
	Code      *CodeStore
	Layers    *LayerStore
	Events    *EventQueue
	Queues    *Queues
	Logs      *Logs

	server   *server.Server // nil when connected to a cluster of others (Config.URL)
	conn     *nats.Conn
	js       natsjs.JetStream
	kv       natsjs.KeyValue
	logger   *slog.Logger
	replicas int

	closeOnce sync.Once
}

// Open starts the embedded server on cfg.Dir, connects to it in-process,
// creates or opens the buckets and loads every function record into memory.
// The caller must Close the Node. In a cluster a node restarted while
// leaders are elected (another node just died) may find a request of its
// start unanswered past the retries of each: it starts again, twice at
// most.
func Open(ctx context.Context, cfg Config) (*Node, error) {
	for attempt := 1; ; attempt++ {
		n, err := open(ctx, cfg)
		if err == nil || attempt == 3 || (cfg.Cluster == nil && cfg.URL == "") || !electing(err) || ctx.Err() != nil {
			return n, err
		}
		if cfg.Logger != nil {
			cfg.Logger.Warn("the store did not open while the cluster elects its leaders; opening again", "err", err)
		}
	}
}

func open(ctx context.Context, cfg Config) (_ *Node, err error) {
	if cfg.Dir == "" {
		return nil, errors.New("jetstream: Config.Dir is required")
	}
	n := &Node{logger: cfg.Logger}
	if n.logger == nil {
		n.logger = slog.New(slog.DiscardHandler)
	}
	defer func() {
		if err != nil {
			n.Close()
		}
	}()

	n.replicas = max(cfg.Replicas, 1)
	if cfg.Cluster != nil || cfg.URL != "" { // a store of this node alone is copied into the cluster
		if err := setAsideStandalone(cfg.Dir, filepath.Join(cfg.Dir, "nats")); err != nil {
			return nil, err
		}
	}
	if cfg.URL != "" {
		if n.conn, err = nats.Connect(cfg.URL, n.connectOptions(cfg)...); err != nil {
			return nil, fmt.Errorf("jetstream: connect to %s: %w", cfg.URL, err)
		}
	} else {
		opts := &server.Options{
			ServerName: "lambada",
			DontListen: true,
			NoSigs:     true,
			JetStream:  true,
			StoreDir:   filepath.Join(cfg.Dir, "nats"),
			// An Event invocation or a queue message may be 1 MiB.
			MaxPayload: maxPayload,
			SyncAlways: cfg.SyncAlways,
		}
		if cfg.Cluster != nil {
			if err := cfg.Cluster.options(opts); err != nil {
				return nil, err
			}
			if cfg.Replicas == 0 {
				n.replicas = cfg.Cluster.replicas()
			}
		}
		n.server, err = server.NewServer(opts)
		if err != nil {
			return nil, fmt.Errorf("jetstream: new server: %w", err)
		}
		n.server.SetLoggerV2(serverLogger{n.logger}, false, false, false)
		n.server.Start()
		if !n.server.ReadyForConnections(readyTimeout) {
			return nil, fmt.Errorf("jetstream: embedded server not ready after %s", readyTimeout)
		}
		connect := append(n.connectOptions(cfg), nats.InProcessServer(n.server))
		if opts.Authorization != "" {
			connect = append(connect, nats.Token(opts.Authorization))
		}
		if n.conn, err = nats.Connect("", connect...); err != nil {
			return nil, fmt.Errorf("jetstream: connect: %w", err)
		}
	}
	if n.js, err = natsjs.New(n.conn); err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	n.js = creating{n.js}
	if err := n.waitForJetStream(ctx); err != nil {
		return nil, err
	}
	if err := n.adopt(ctx, cfg.Dir); err != nil {
		return nil, err
	}
	n.kv, err = n.js.CreateOrUpdateKeyValue(ctx, natsjs.KeyValueConfig{
		Bucket:      FunctionsBucket,
		Description: "Lambada function records",
		History:     1,
		Storage:     natsjs.FileStorage,
		Replicas:    n.replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("jetstream: bucket %s: %w", FunctionsBucket, err)
	}
	obj, err := n.js.CreateOrUpdateObjectStore(ctx, natsjs.ObjectStoreConfig{
		Bucket:      CodeBucket,
		Description: "Lambada code archives by SHA-256",
		Storage:     natsjs.FileStorage,
		Replicas:    n.replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("jetstream: object store %s: %w", CodeBucket, err)
	}
	n.Code = &CodeStore{obj: obj, replicated: n.replicas > 1}
	layers, err := n.js.CreateOrUpdateKeyValue(ctx, natsjs.KeyValueConfig{
		Bucket:      LayersBucket,
		Description: "Lambada layer versions",
		History:     1,
		Storage:     natsjs.FileStorage,
		Replicas:    n.replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("jetstream: bucket %s: %w", LayersBucket, err)
	}
	n.Layers = &LayerStore{kv: layers}
	if n.Events, err = openEventQueue(ctx, n.js, cfg.EventBytes, cfg.AckWait, n.replicas, n.logger); err != nil {
		return nil, err
	}
	if n.Functions, err = openFunctionStore(ctx, n.kv, n.logger); err != nil {
		return nil, err
	}
	if n.Queues, err = openQueues(ctx, n.js, n.conn, n.replicas, n.logger); err != nil {
		return nil, err
	}
	if n.Logs, err = openLogs(ctx, n.js, cfg.LogBytes, n.replicas); err != nil {
		return nil, err
	}
	n.logger.Info("jetstream opened", "dir", cfg.Dir)
	return n, nil
}

// SyncsEveryWrite reports whether the store syncs every write to disk
// before acknowledging it (Config.SyncAlways).
func (n *Node) SyncsEveryWrite() bool {
	if n.server == nil {
		return false // the cluster's own setting, not known here
	}
	c := n.server.JetStreamConfig()
	return c != nil && c.SyncAlways
}

// Close stops the function store's watcher, closes the connection and shuts
// the embedded server down, waiting for each. It is safe to call twice.
func (n *Node) Close() error {
	n.closeOnce.Do(func() {
		if n.Functions != nil {
			n.Functions.Close()
		}
		if n.Events != nil {
			n.Events.Close()
		}
		if n.conn != nil {
			n.conn.Close()
		}
		if n.server != nil {
			n.server.Shutdown()
			n.server.WaitForShutdown()
		}
	})
	return nil
}

// serverLogger sends the embedded server's log to slog. Its notices (a banner
// of some twenty lines at start) are debug messages here.
type serverLogger struct{ l *slog.Logger }

func (s serverLogger) Noticef(format string, v ...any) { s.log(slog.LevelDebug, format, v) }
func (s serverLogger) Warnf(format string, v ...any)   { s.log(slog.LevelWarn, format, v) }
func (s serverLogger) Fatalf(format string, v ...any)  { s.log(slog.LevelError, format, v) }
func (s serverLogger) Errorf(format string, v ...any)  { s.log(slog.LevelError, format, v) }
func (s serverLogger) Debugf(format string, v ...any)  { s.log(slog.LevelDebug, format, v) }
func (s serverLogger) Tracef(format string, v ...any)  {}

func (s serverLogger) log(level slog.Level, format string, v []any) {
	if s.l.Enabled(context.Background(), level) {
		s.l.Log(context.Background(), level, "nats-server", "text", fmt.Sprintf(format, v...))
	}
}

// Conn returns the node's connection, for the messages nodes send each
// other (package relay).
func (n *Node) Conn() *nats.Conn { return n.conn }
