package jetstream

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/lambada-dev/lambada"
)

// NodesBucket holds each node's last heartbeat: node name → JSON of its
// Heartbeat.
const NodesBucket = "lambada_nodes"

// Heartbeat defaults.
const (
	DefaultHeartbeatEvery   = time.Second
	DefaultHeartbeatTimeout = 5 * time.Second
)

// Heartbeat is what a node tells the others every beat.
type Heartbeat struct {
	// Ready counts the node's ready provisioned environments by
	// lambada.VersionID.
	Ready map[string]int `json:"ready,omitempty"`
	// Over says the node runs more than its share of the limits now: its
	// share shrank (a node joined) under executions still running.
	Over bool `json:"over,omitempty"`
	// Wait lists, while it is Over, the nodes that joined its view since
	// it last ran within its share (filled in by Members): their shares
	// are what it runs over, so they admit nothing until it is within its
	// share again. The others were counted before: they need not wait.
	Wait []string `json:"wait,omitempty"`
	// Sent is when the node sent it, in nanoseconds (filled in by
	// Members): on the wall clock when the node started and on its
	// monotonic clock since, so that no step of the wall clock moves it,
	// and a node started again under the same name reads its earlier
	// life's as earlier. Only the node itself reads it.
	Sent int64 `json:"sent"`
	// Sees holds the nodes it heard from within the timeout, itself
	// included, each with the Sent of the last heartbeat it heard from it
	// (filled in by Members): a node finds there, by its own clock, how
	// recent the news of it the other has is, however late the heartbeat
	// arrives.
	Sees map[string]int64 `json:"sees,omitempty"`
	// Relay is the address it takes invocations on straight from the
	// others ("": none).
	Relay string `json:"relay,omitempty"`
}

// Members tells the other nodes, every Every, that this node is alive and
// hears them say the same: a node is live while its last heartbeat, as
// this node received it, is younger than Timeout. Heartbeats are plain
// NATS messages, which need no JetStream leader: electing one after a node
// died stops no heartbeat. The nodes bucket only remembers which nodes
// there are (for an hour), so that a node knows what a majority is.
//
// This node's own lease (lambada.Members' Until) holds while it has heard
// within half of Timeout from enough nodes to make a majority with itself
// (lambada.LeaseUntil), and every node in its view is heard, counts this
// node live (as of a heartbeat of this node's recent enough that it still
// does: echoed in Sees) and does not wait for it to run within its share
// (Wait). So a node cut off from most of the cluster stops admitting
// invocations half a timeout after it last heard them, while the others
// take its share over only after the whole timeout, so that what it was
// running has that long to end (what has not is stopped at its Fence);
// and a node that joins (or comes back) admits nothing until every node
// has made room for it, whatever heartbeats sent before arrive late.
type Members struct {
	Self    string
	Every   time.Duration    // when zero, DefaultHeartbeatEvery or a fifth of Timeout, whichever is less
	Timeout time.Duration    // DefaultHeartbeatTimeout when zero
	Beat    func() Heartbeat // what this node tells; nil: nothing
	// Changed hears every new view, from the heartbeat goroutine: every
	// beat, and every heartbeat heard.
	Changed func(*lambada.Members)
	Logger  *slog.Logger

	conn       *nats.Conn
	kv         natsjs.KeyValue
	sub        *nats.Subscription
	heard      chan *nats.Msg
	mu         sync.Mutex
	seen       map[string]seenBeat
	known      map[string]bool
	live       []string // as last told to Changed
	leased     bool     // as last told to Changed
	calm       []string // the nodes of the view when this node last ran within its share, less those gone since
	lastDirect []string // the nodes heard, as last looked at by lost
	epoch      time.Time
	held       time.Time     // the latest Until so far, among several nodes: the lease holds before it
	record     time.Duration // how often it records itself and reads the bucket again: knownFor/10 when zero
	cancel     context.CancelFunc
	done       chan struct{}
}

type seenBeat struct {
	at   time.Time // when this node heard it, by its clock
	beat Heartbeat
	left bool // the node said it left: it runs nothing
}

// membersSubject is where node's heartbeats go; leaving says it left.
func membersSubject(node string) string {
	return "lambada.members." + base64.RawURLEncoding.EncodeToString([]byte(node))
}

const leaving = "Lambada-Leaving"

// OpenMembers records m's node among the cluster's, reads which others
// there are, and starts beating and hearing. The caller must Close m.
func (n *Node) OpenMembers(ctx context.Context, m *Members) error {
	if m.Self == "" {
		return errors.New("jetstream: a member needs a name")
	}
	m.Timeout = cmp.Or(m.Timeout, DefaultHeartbeatTimeout)
	m.Every = cmp.Or(m.Every, min(DefaultHeartbeatEvery, m.Timeout/5))
	if m.Logger == nil {
		m.Logger = slog.New(slog.DiscardHandler)
	}
	var err error
	m.kv, err = n.js.CreateOrUpdateKeyValue(ctx, natsjs.KeyValueConfig{
		Bucket:      NodesBucket,
		Description: "Lambada nodes: the cluster's members",
		History:     1,
		TTL:         knownFor,
		Storage:     natsjs.FileStorage,
		Replicas:    n.replicas,
	})
	if err != nil {
		return fmt.Errorf("jetstream: bucket %s: %w", NodesBucket, err)
	}
	if err := retryErr(ctx, m.remember); err != nil {
		return fmt.Errorf("jetstream: record this node: %w", err)
	}
	m.seen, m.known, m.epoch = map[string]seenBeat{}, map[string]bool{m.Self: true}, time.Now()
	if err := m.reload(ctx); err != nil {
		return err
	}
	m.conn = n.conn
	m.heard = make(chan *nats.Msg, 256)
	if m.sub, err = n.conn.ChanSubscribe("lambada.members.*", m.heard); err != nil {
		return fmt.Errorf("jetstream: hear heartbeats: %w", err)
	}
	m.beat()
	m.publish(time.Now())
	var run context.Context
	run, m.cancel = context.WithCancel(context.Background())
	m.done = make(chan struct{})
	go m.run(run)
	// A node that knows of others admits nothing until they count it: wait
	// for that, a timeout at most (they may all be gone).
	wait, cancel := context.WithTimeout(ctx, m.Timeout)
	defer cancel()
	for now := time.Now(); !m.View(now).Until.After(now); now = time.Now() {
		select {
		case <-wait.Done():
			m.Logger.Warn("no lease yet: the other nodes known do not answer")
			return nil
		case <-time.After(m.Every / 10):
		}
	}
	return nil
}

// knownFor is how long a node that stopped is still counted among the
// cluster's (for its majority) after it last recorded itself.
const knownFor = time.Hour

// sent is what a heartbeat sent at now says in Sent.
func (m *Members) sent(now time.Time) int64 {
	return m.epoch.UnixNano() + int64(now.Sub(m.epoch))
}

// sentAt is the time, on this node's clocks, of a heartbeat whose Sent
// was sent.
func (m *Members) sentAt(sent int64) time.Time {
	return m.epoch.Add(time.Duration(sent - m.epoch.UnixNano()))
}

// reload makes the known nodes those the nodes bucket remembers, with
// this node and those it hears: a node gone for good (killed, never
// back) is forgotten once the bucket is (knownFor), rather than counted
// in every majority for ever. A node cut off from most of the cluster
// cannot read the bucket, and keeps counting them all.
func (m *Members) reload(ctx context.Context) error {
	keys, err := m.kv.ListKeys(ctx)
	if err != nil {
		return fmt.Errorf("jetstream: list %s: %w", NodesBucket, err)
	}
	var names []string
	for k := range keys.Keys() {
		names = append(names, k)
	}
	known := map[string]bool{m.Self: true}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, k := range names {
		if !m.seen[k].left { // its record may outlive its leaving a moment
			known[k] = true
		}
	}
	for _, name := range m.direct(time.Now()) {
		known[name] = true
	}
	m.known = known
	return nil
}

// remember records this node in the nodes bucket.
func (m *Members) remember(ctx context.Context) error {
	_, err := m.kv.Put(ctx, m.Self, []byte(time.Now().UTC().Format(time.RFC3339)))
	return err
}

// retryErr is retry for an operation with no value.
func retryErr(ctx context.Context, op func(context.Context) error) error {
	_, err := retry(ctx, func(ctx context.Context) (struct{}, error) { return struct{}{}, op(ctx) })
	return err
}

// beat tells the others this node is alive.
func (m *Members) beat() {
	var hb Heartbeat
	if m.Beat != nil {
		hb = m.Beat()
	}
	m.mu.Lock()
	now := time.Now()
	hb.Sent = m.sent(now)
	hb.Sees = map[string]int64{m.Self: hb.Sent}
	for _, name := range m.direct(now) {
		if name != m.Self {
			hb.Sees[name] = m.seen[name].beat.Sent
		}
	}
	if hb.Over {
		for _, name := range m.live {
			if !slices.Contains(m.calm, name) {
				hb.Wait = append(hb.Wait, name)
			}
		}
	} else {
		m.calm = slices.Clone(m.live)
	}
	m.mu.Unlock()
	b, err := json.Marshal(hb)
	if err == nil {
		err = m.conn.Publish(membersSubject(m.Self), b)
	}
	if err != nil {
		m.Logger.Warn("heartbeat not sent", "err", err)
	}
}

// hear records a heartbeat received at now.
func (m *Members) hear(msg *nats.Msg, now time.Time) {
	name, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(msg.Subject, "lambada.members."))
	if err != nil || string(name) == m.Self {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if msg.Header.Get(leaving) != "" {
		m.seen[string(name)] = seenBeat{left: true}
		delete(m.known, string(name))
		return
	}
	var hb Heartbeat
	if err := json.Unmarshal(msg.Data, &hb); err != nil {
		m.Logger.Error("undecodable heartbeat", "node", string(name), "err", err)
		return
	}
	m.seen[string(name)] = seenBeat{at: now, beat: hb}
	m.known[string(name)] = true
}

// run beats every m.Every and hears the others until ctx ends; it records
// this node again every few minutes, so that the bucket remembers it.
func (m *Members) run(ctx context.Context) {
	defer close(m.done)
	tick := time.NewTicker(m.Every)
	defer tick.Stop()
	// expiry fires when the next node's heartbeat gets too old (or this
	// node's lease lapses): its share is taken over then, not at the next
	// beat.
	expiry := time.NewTimer(m.Timeout)
	defer expiry.Stop()
	lastRecord := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case msg := <-m.heard:
			m.hear(msg, time.Now())
		case <-expiry.C:
		case <-tick.C:
			m.beat()
		}
		if m.lost(time.Now()) { // before Changed, which may take a while
			m.beat()
		}
		m.publish(time.Now())
		if time.Since(lastRecord) > cmp.Or(m.record, knownFor/10) {
			record, cancel := context.WithTimeout(ctx, m.Every)
			if err := m.remember(record); err == nil {
				lastRecord = time.Now()
				_ = m.reload(record)
			}
			cancel()
		}
		expiry.Reset(m.nextExpiry(time.Now()))
	}
}

// nextExpiry returns how long until a live node's heartbeat gets too old
// or this node's lease lapses, whichever comes first (a timeout at most).
func (m *Members) nextExpiry(now time.Time) time.Duration {
	m.mu.Lock()
	defer m.mu.Unlock()
	next := m.Timeout
	v := m.viewLocked(now)
	// A node's heartbeat gets too old, and the grace of one that others
	// still hear ends (viewLocked); the lease lapses, the fence comes.
	ats := []time.Time{v.Until, v.Fence}
	for _, s := range m.seen {
		ats = append(ats, s.at.Add(m.Timeout), s.at.Add(m.Timeout+m.Every/4))
	}
	for _, at := range ats {
		if d := at.Sub(now); d > 0 && d < next {
			next = d
		}
	}
	return next + time.Millisecond // past it, not on it
}

// View returns this node's view of the cluster at now.
func (m *Members) View(now time.Time) *lambada.Members {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.viewLocked(now)
}

// direct returns the nodes this node heard from within the timeout, itself
// included, sorted. m.mu is held.
func (m *Members) direct(now time.Time) []string {
	out := []string{m.Self}
	for name, s := range m.seen {
		if !s.left && now.Sub(s.at) < m.Timeout {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// lost tells whether a node this node heard lately is gone now (its
// heartbeat got too old, or it left): it then beats at once, rather than
// at the next beat, because the others count the nodes it hears, and a
// dead node's share must come back within the timeout. (A node heard
// again is told at the next beat, as before: a node that comes back then
// waits for every node to hear it before it admits anything.)
func (m *Members) lost(now time.Time) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	cur := m.direct(now)
	gone := slices.ContainsFunc(m.lastDirect, func(n string) bool { return !slices.Contains(cur, n) })
	m.lastDirect = cur
	return gone
}

// viewLocked is the view at now: the nodes this node hears, and those they
// hear, so that no node counts fewer nodes than another (its share would
// be larger than theirs allow); and a lease only while every node in it is
// heard, counts this one and runs within its share. m.mu is held.
func (m *Members) viewLocked(now time.Time) *lambada.Members {
	nodes := []string{m.Self}
	var heard []time.Time
	agreed := true
	// A node that heard a heartbeat of this one sent at e counts it live
	// until a timeout after e at least. A node takes its lease only while
	// every node it hears has heard it within fresh (half a timeout and a
	// beat: each tells what it heard at its next beat), which leaves half
	// a timeout more; it keeps it while most nodes have (a node that died
	// holds nothing back): no node can take its share over before those
	// have given it up, for any majority holds one of them, which counts
	// it, so that it is in the taker's view, and the taker must hear it.
	fresh := min(m.Timeout/2+m.Every, m.Timeout)
	var echoes []time.Time
	for name, s := range m.seen {
		if s.left || now.Sub(s.at) >= m.Timeout {
			continue
		}
		nodes = append(nodes, name)
		for other := range s.beat.Sees {
			nodes = append(nodes, other)
		}
		if slices.Contains(s.beat.Wait, m.Self) {
			agreed = false
		}
		var e time.Time // no news of this node: none
		if echo, ok := s.beat.Sees[m.Self]; ok {
			e = m.sentAt(echo).Add(fresh)
		}
		echoes = append(echoes, e)
		heard = append(heard, s.at)
	}
	// A node heard of only through another may not hear this one yet, and
	// then still runs the larger share it had without it: no lease until
	// this node hears it too (or it left, or has been gone a moment: its
	// heartbeat got too old here, and the others drop it too).
	for _, name := range nodes {
		if s, ok := m.seen[name]; name != m.Self && (!ok || !s.left && now.Sub(s.at) >= m.Timeout+m.Every/4) {
			agreed = false
		}
	}
	var until time.Time
	if agreed {
		until = lambada.LeaseUntil(heard, len(m.known), m.Timeout/2)
		slices.SortFunc(echoes, func(a, b time.Time) int { return b.Compare(a) }) // freshest first
		need := len(echoes)                                                       // taking it: every one
		if now.Before(m.held) {
			need = len(m.known) / 2 // keeping it: with this node, a majority
		}
		if need > 0 {
			var e time.Time
			if need <= len(echoes) {
				e = echoes[need-1]
			}
			if e.Before(until) {
				until = e
			}
		}
	}
	v := lambada.NewMembers(m.Self, nodes, until)
	if len(m.known) > 1 {
		if until.After(m.held) {
			m.held = until
		}
		v.Fence = m.fence()
	}
	return v
}

// fence is the Fence of the lease that holds until m.held, or held until
// then last: the others take this node's share over a timeout after the
// nodes that count it last heard it, which was at m.held less fresh at
// the earliest; half a beat is left for what runs here to be stopped.
// m.mu is held.
func (m *Members) fence() time.Time {
	if m.held.IsZero() {
		return time.Time{}
	}
	return m.held.Add(m.Timeout/2 - m.Every - m.Every/2)
}

// publish tells Changed the view at now.
func (m *Members) publish(now time.Time) {
	m.mu.Lock()
	v := m.viewLocked(now)
	changed := !slices.Equal(m.live, v.Nodes)
	leased := v.Until.After(now)
	changedLease := leased != m.leased
	m.live, m.leased = v.Nodes, leased
	m.calm = slices.DeleteFunc(m.calm, func(n string) bool { return !slices.Contains(v.Nodes, n) })
	m.mu.Unlock()
	if changed {
		m.Logger.Info("cluster nodes changed", "live", v.Nodes)
	}
	if changedLease {
		m.Logger.Info("lease", "held", leased)
	}
	if m.Changed != nil {
		m.Changed(v)
	}
}

// Ready returns how many ready provisioned environments of the version
// named id (lambada.VersionID) the other live nodes reported.
func (m *Members) Ready(id string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, name := range m.live {
		if name != m.Self {
			n += m.seen[name].beat.Ready[id]
		}
	}
	return n
}

// RelayAddr returns the address the live node tells it takes invocations
// on straight from the others ("": none, or not live).
func (m *Members) RelayAddr(node string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !slices.Contains(m.live, node) {
		return ""
	}
	return m.seen[node].beat.Relay
}

// Live returns the live nodes as last published.
func (m *Members) Live() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.live)
}

// Close stops beating and tells the others this node left, so that they
// take its share over at once and no longer count it.
func (m *Members) Close() error {
	if m.cancel == nil {
		return nil
	}
	m.cancel()
	<-m.done
	_ = m.sub.Unsubscribe()
	bye := nats.NewMsg(membersSubject(m.Self))
	bye.Header.Set(leaving, "1")
	err := m.conn.PublishMsg(bye)
	if err == nil {
		err = m.conn.Flush()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	m.Logger.Info("left the cluster")
	return errors.Join(err, m.kv.Delete(ctx, m.Self))
}
