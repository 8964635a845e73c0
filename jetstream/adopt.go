package jetstream

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"
)

// A node that had run alone and starts in a cluster brings its store
// along: the cluster's JetStream does not take over streams made without
// it, so they are copied. Its store is moved aside first (to
// standaloneDir), and copied into the cluster once the cluster answers,
// every stream with its messages (functions, code, layers, queued events,
// SQS queues, logs, keys); it is then kept, renamed adoptedDir, until its
// owner removes it. A copy cut short is made again at the next start (a
// queued event may then run twice, as at least once allows).
const (
	standaloneDir = "nats-standalone"
	adoptedDir    = "nats-standalone-adopted"
)

// isStandaloneStore reports whether dir holds a store a server made
// without a cluster: its streams, and no cluster metadata.
func isStandaloneStore(dir string) bool {
	_, streams := os.Stat(filepath.Join(dir, "jetstream", "$G", "streams"))
	_, meta := os.Stat(filepath.Join(dir, "jetstream", "$SYS", "_js_"))
	return streams == nil && errors.Is(meta, os.ErrNotExist)
}

// setAsideStandalone moves a store made without a cluster out of the way
// of the clustered server about to start on storeDir.
func setAsideStandalone(dataDir, storeDir string) error {
	if !isStandaloneStore(storeDir) {
		return nil
	}
	aside := filepath.Join(dataDir, standaloneDir)
	if _, err := os.Stat(aside); err == nil {
		return fmt.Errorf("jetstream: both %s and %s hold a store made without a cluster: keep one", storeDir, aside)
	}
	return os.Rename(storeDir, aside)
}

// adopt copies the store set aside in dataDir, if there is one, into the
// cluster.
func (n *Node) adopt(ctx context.Context, dataDir string) error {
	aside := filepath.Join(dataDir, standaloneDir)
	if _, err := os.Stat(aside); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	old, err := server.NewServer(&server.Options{ServerName: "lambada-standalone", DontListen: true, NoSigs: true, JetStream: true,
		StoreDir: aside, MaxPayload: maxPayload})
	if err != nil {
		return fmt.Errorf("jetstream: open the store set aside: %w", err)
	}
	old.SetLoggerV2(serverLogger{n.logger}, false, false, false)
	old.Start()
	defer func() {
		old.Shutdown()
		old.WaitForShutdown()
	}()
	if !old.ReadyForConnections(readyTimeout) {
		return errors.New("jetstream: the store set aside did not start")
	}
	conn, err := nats.Connect("", nats.InProcessServer(old))
	if err != nil {
		return err
	}
	defer conn.Close()
	from, err := natsjs.New(conn)
	if err != nil {
		return err
	}
	copied := 0
	for name := range from.StreamNames(ctx).Name() {
		k, err := n.copyStream(ctx, from, name)
		if err != nil {
			return fmt.Errorf("jetstream: copy stream %s into the cluster: %w", name, err)
		}
		copied += k
	}
	n.logger.Info("the store this node had alone is copied into the cluster", "messages", copied, "kept_in", filepath.Join(dataDir, adoptedDir))
	return os.Rename(aside, filepath.Join(dataDir, adoptedDir))
}

// copyStream makes stream name in the cluster, with the configuration it
// had and the cluster's replicas, and publishes every message it holds
// there, in order, headers and all.
func (n *Node) copyStream(ctx context.Context, from natsjs.JetStream, name string) (int, error) {
	src, err := from.Stream(ctx, name)
	if err != nil {
		return 0, err
	}
	info := src.CachedInfo()
	cfg := info.Config
	cfg.Replicas = n.replicas
	if _, err := n.js.CreateOrUpdateStream(ctx, cfg); err != nil {
		return 0, err
	}
	copied := 0
	for seq := info.State.FirstSeq; seq > 0 && seq <= info.State.LastSeq; seq++ {
		m, err := src.GetMsg(ctx, seq)
		if errors.Is(err, natsjs.ErrMsgNotFound) {
			continue // deleted (acknowledged events, replaced records)
		} else if err != nil {
			return copied, err
		}
		out := nats.NewMsg(m.Subject)
		for k, v := range m.Header {
			if !strings.HasPrefix(k, "Nats-Expected-") { // the checks of the write that stored it
				out.Header[k] = v
			}
		}
		out.Data = m.Data
		if _, err := retry(ctx, func(ctx context.Context) (*natsjs.PubAck, error) {
			attempt, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			return n.js.PublishMsg(attempt, out)
		}); err != nil {
			return copied, err
		}
		copied++
	}
	return copied, nil
}
