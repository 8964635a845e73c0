package jetstream

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/lambada-dev/lambada"
	natsjs "github.com/nats-io/nats.go/jetstream"
)

// Names of the log stores.
const (
	LogsStream      = "lambada_logs"       // stream: logs.<group>.<stream> → batches of events
	LogGroupsBucket = "lambada_log_groups" // key-value: <group> → JSON of lambada.LogGroup
)

// DefaultLogBytes is how many bytes of log events a node keeps at most.
const DefaultLogBytes = 1 << 30

// maxBatchBytes and maxBatchEvents bound one stored message of events.
const (
	maxBatchBytes  = 1 << 20
	maxBatchEvents = 1<<16 - 1
)

// Logs keeps log groups and their events in JetStream, with no state of its
// own in memory but the groups it has seen, so that nodes may share it:
//
//   - each group (per account) is a key of LogGroupsBucket holding its
//     creation time and retention;
//   - its events are messages of LogsStream on logs.<group>.<stream> (both
//     names in base64url), each a batch of events in order, so that a
//     stream is a subject and a group a wildcard; a message's time is its
//     events' ingestion time;
//   - an event's Position is its message's sequence << 16 | its index;
//   - the stream is bounded in bytes (the oldest go first), and Sweep
//     removes what is older than each group's retention.
type Logs struct {
	js     natsjs.JetStream
	stream natsjs.Stream
	kv     natsjs.KeyValue
	known  syncSet // groups known to exist
}

func openLogs(ctx context.Context, js natsjs.JetStream, maxBytes int64, replicas int) (*Logs, error) {
	if maxBytes <= 0 {
		maxBytes = DefaultLogBytes
	}
	l := &Logs{js: js}
	var err error
	l.stream, err = js.CreateOrUpdateStream(ctx, natsjs.StreamConfig{
		Name:        LogsStream,
		Description: "Lambada log events",
		Subjects:    []string{"logs.>"},
		Storage:     natsjs.FileStorage,
		MaxBytes:    maxBytes,
		Discard:     natsjs.DiscardOld,
		AllowDirect: true,
		Replicas:    replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("jetstream: stream %s: %w", LogsStream, err)
	}
	l.kv, err = js.CreateOrUpdateKeyValue(ctx, natsjs.KeyValueConfig{
		Bucket:      LogGroupsBucket,
		Description: "Lambada log groups",
		History:     1,
		Storage:     natsjs.FileStorage,
		Replicas:    replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("jetstream: bucket %s: %w", LogGroupsBucket, err)
	}
	return l, nil
}

// token is s as a subject token or key: base64url, which holds no '.',
// '*' or '>'.
func token(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// groupToken is the token of account's group.
func groupToken(account, group string) string { return token(lambada.AccountKey("", account, group)) }

func streamSubject(account, group, stream string) string {
	return "logs." + groupToken(account, group) + "." + token(stream)
}

func groupSubjects(account, group string) string { return "logs." + groupToken(account, group) + ".>" }

// Append stores b's events at the end of its stream, creating the group
// when it is new.
func (l *Logs) Append(ctx context.Context, b lambada.LogBatch) error {
	if err := l.ensureGroup(ctx, b.Account, b.Group); err != nil {
		return err
	}
	subject := streamSubject(b.Account, b.Group, b.Stream)
	events := b.Events
	for len(events) > 0 {
		var body []byte
		n := 0
		for n < len(events) && n < maxBatchEvents && (n == 0 || len(body)+len(events[n].Message) < maxBatchBytes) {
			e := events[n]
			if len(e.Message) > maxBatchBytes {
				e.Message = e.Message[:maxBatchBytes] // CloudWatch's own limit is 256 KiB
			}
			body = binary.AppendVarint(body, e.Time)
			body = binary.AppendUvarint(body, uint64(len(e.Message)))
			body = append(body, e.Message...)
			n++
		}
		if _, err := l.js.Publish(ctx, subject, body); err != nil {
			return fmt.Errorf("jetstream: append log events: %w", err)
		}
		events = events[n:]
	}
	return nil
}

// decodeEvents returns the events of a stored message of sequence seq,
// ingested at t.
func decodeEvents(body []byte, seq uint64, t time.Time, stream string) ([]lambada.LogEvent, error) {
	var events []lambada.LogEvent
	for i := 0; len(body) > 0; i++ {
		ms, n := binary.Varint(body)
		if n <= 0 {
			return nil, errors.New("jetstream: corrupt log batch")
		}
		body = body[n:]
		size, n := binary.Uvarint(body)
		if n <= 0 || uint64(len(body)-n) < size {
			return nil, errors.New("jetstream: corrupt log batch")
		}
		body = body[n:]
		events = append(events, lambada.LogEvent{Stream: stream, Time: ms, Ingestion: t.UnixMilli(),
			Message: string(body[:size]), Position: seq<<16 | uint64(i)})
		body = body[size:]
	}
	return events, nil
}

// streamOf is the log stream of a subject logs.<group>.<stream>.
func streamOf(subject string) string {
	i := strings.LastIndexByte(subject, '.')
	b, err := base64.RawURLEncoding.DecodeString(subject[i+1:])
	if err != nil {
		return ""
	}
	return string(b)
}

func (l *Logs) ensureGroup(ctx context.Context, account, group string) error {
	key := groupToken(account, group)
	if l.known.has(key) {
		return nil
	}
	err := l.CreateGroup(ctx, lambada.LogGroup{Name: group, Account: account, Created: time.Now().UnixMilli()})
	if err != nil && lambada.ErrorCode(err) != lambada.ECONFLICT {
		return err
	}
	l.known.add(key)
	return nil
}

// CreateGroup creates a log group; ECONFLICT if it exists.
func (l *Logs) CreateGroup(ctx context.Context, g lambada.LogGroup) error {
	b, err := json.Marshal(g)
	if err != nil {
		return err
	}
	if _, err := l.kv.Create(ctx, groupToken(g.Account, g.Name), b); errors.Is(err, natsjs.ErrKeyExists) {
		return &lambada.Error{Code: lambada.ECONFLICT}
	} else if err != nil {
		return fmt.Errorf("jetstream: create log group: %w", err)
	}
	return nil
}

// Group returns account's group; ENOTFOUND if there is none.
func (l *Logs) Group(ctx context.Context, account, name string) (*lambada.LogGroup, error) {
	e, err := l.kv.Get(ctx, groupToken(account, name))
	if errors.Is(err, natsjs.ErrKeyNotFound) {
		return nil, &lambada.Error{Code: lambada.ENOTFOUND}
	} else if err != nil {
		return nil, fmt.Errorf("jetstream: log group: %w", err)
	}
	var g lambada.LogGroup
	if err := json.Unmarshal(e.Value(), &g); err != nil {
		return nil, fmt.Errorf("jetstream: log group %s: %w", name, err)
	}
	return &g, nil
}

// Groups returns account's log groups, sorted by name.
func (l *Logs) Groups(ctx context.Context, account string) ([]lambada.LogGroup, error) {
	all, err := l.allGroups(ctx)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(all, func(g lambada.LogGroup) bool { return g.Account != account }), nil
}

// allGroups returns every account's log groups, sorted by name.
func (l *Logs) allGroups(ctx context.Context) ([]lambada.LogGroup, error) {
	keys, err := l.kv.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("jetstream: log groups: %w", err)
	}
	var groups []lambada.LogGroup
	for key := range keys.Keys() {
		e, err := l.kv.Get(ctx, key)
		if errors.Is(err, natsjs.ErrKeyNotFound) {
			continue // deleted meanwhile
		} else if err != nil {
			return nil, fmt.Errorf("jetstream: log group: %w", err)
		}
		var g lambada.LogGroup
		if json.Unmarshal(e.Value(), &g) == nil {
			groups = append(groups, g)
		}
	}
	slices.SortFunc(groups, func(a, b lambada.LogGroup) int { return strings.Compare(a.Name, b.Name) })
	return groups, nil
}

// SetRetention sets the retention of account's group in days (0: the
// node's default); ENOTFOUND if there is no such group.
func (l *Logs) SetRetention(ctx context.Context, account, name string, days int) error {
	for {
		e, err := l.kv.Get(ctx, groupToken(account, name))
		if errors.Is(err, natsjs.ErrKeyNotFound) {
			return &lambada.Error{Code: lambada.ENOTFOUND}
		} else if err != nil {
			return fmt.Errorf("jetstream: log group: %w", err)
		}
		var g lambada.LogGroup
		if err := json.Unmarshal(e.Value(), &g); err != nil {
			return err
		}
		g.RetentionDays = days
		b, _ := json.Marshal(g)
		if _, err := l.kv.Update(ctx, e.Key(), b, e.Revision()); err == nil {
			return nil
		} else if !errors.Is(err, natsjs.ErrKeyExists) {
			return fmt.Errorf("jetstream: log group: %w", err)
		}
	}
}

// DeleteGroup deletes account's group and its events; ENOTFOUND if there
// is no such group.
func (l *Logs) DeleteGroup(ctx context.Context, account, name string) error {
	if _, err := l.Group(ctx, account, name); err != nil {
		return err
	}
	key := groupToken(account, name)
	l.known.remove(key)
	if err := l.kv.Purge(ctx, key); err != nil {
		return fmt.Errorf("jetstream: delete log group: %w", err)
	}
	if err := l.stream.Purge(ctx, natsjs.WithPurgeSubject(groupSubjects(account, name))); err != nil {
		return fmt.Errorf("jetstream: delete log events: %w", err)
	}
	return nil
}

// Streams returns the log streams of account's group that hold events,
// sorted by name.
func (l *Logs) Streams(ctx context.Context, account, group string) ([]lambada.LogStream, error) {
	info, err := l.stream.Info(ctx, natsjs.WithSubjectFilter(groupSubjects(account, group)))
	if err != nil {
		return nil, fmt.Errorf("jetstream: log streams: %w", err)
	}
	var streams []lambada.LogStream
	for subject := range info.State.Subjects {
		first, err := l.stream.GetMsg(ctx, 1, natsjs.WithGetMsgSubject(subject))
		if errors.Is(err, natsjs.ErrMsgNotFound) {
			continue // expired meanwhile
		} else if err != nil {
			return nil, fmt.Errorf("jetstream: log stream: %w", err)
		}
		last, err := l.stream.GetLastMsgForSubject(ctx, subject)
		if err != nil {
			return nil, fmt.Errorf("jetstream: log stream: %w", err)
		}
		name := streamOf(subject)
		firsts, err1 := decodeEvents(first.Data, first.Sequence, first.Time, name)
		lasts, err2 := decodeEvents(last.Data, last.Sequence, last.Time, name)
		if err := errors.Join(err1, err2); err != nil || len(firsts) == 0 || len(lasts) == 0 {
			continue
		}
		streams = append(streams, lambada.LogStream{Name: name, Created: firsts[0].Time, FirstEvent: firsts[0].Time,
			LastEvent: lasts[len(lasts)-1].Time, LastIngestion: last.Time.UnixMilli()})
	}
	slices.SortFunc(streams, func(a, b lambada.LogStream) int { return strings.Compare(a.Name, b.Name) })
	return streams, nil
}

// Scan calls fn with the events of a group (of the given streams) from a
// position on, in the order they were stored, until fn returns false or
// no event is left. An event's Position is where a later Scan may go on.
func (l *Logs) Scan(ctx context.Context, s lambada.LogScan, fn func(lambada.LogEvent) bool) error {
	cfg := natsjs.ConsumerConfig{FilterSubjects: []string{groupSubjects(s.Account, s.Group)},
		AckPolicy: natsjs.AckNonePolicy, MemoryStorage: true, InactiveThreshold: time.Minute}
	if len(s.Streams) > 0 {
		cfg.FilterSubjects = nil
		for _, name := range s.Streams {
			cfg.FilterSubjects = append(cfg.FilterSubjects, streamSubject(s.Account, s.Group, name))
		}
	}
	switch {
	case s.From > 0:
		cfg.DeliverPolicy, cfg.OptStartSeq = natsjs.DeliverByStartSequencePolicy, s.From>>16
	case !s.Since.IsZero():
		cfg.DeliverPolicy, cfg.OptStartTime = natsjs.DeliverByStartTimePolicy, &s.Since
	}
	// An ephemeral consumer of its own, deleted when done (else gone after
	// a minute unused).
	cons, err := l.stream.CreateConsumer(ctx, cfg)
	if err != nil {
		return fmt.Errorf("jetstream: read log events: %w", err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		_ = l.stream.DeleteConsumer(ctx, cons.CachedInfo().Name)
		cancel()
	}()
	for {
		batch, err := cons.FetchNoWait(256)
		if err != nil {
			return fmt.Errorf("jetstream: read log events: %w", err)
		}
		n := 0
		pending := uint64(0)
		for msg := range batch.Messages() {
			n++
			md, err := msg.Metadata()
			if err != nil {
				return fmt.Errorf("jetstream: read log events: %w", err)
			}
			pending = md.NumPending
			events, err := decodeEvents(msg.Data(), md.Sequence.Stream, md.Timestamp, streamOf(msg.Subject()))
			if err != nil {
				return err
			}
			for _, e := range events {
				if e.Position < s.From {
					continue
				}
				if !fn(e) {
					return nil
				}
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, natsjs.ErrNoMessages) {
			return fmt.Errorf("jetstream: read log events: %w", err)
		}
		if n == 0 || pending == 0 {
			return nil
		}
	}
}

// Sweep removes, from every group, the events ingested longer ago than its
// retention (def for a group that has none) before now.
func (l *Logs) Sweep(ctx context.Context, now time.Time, def time.Duration) error {
	groups, err := l.allGroups(ctx)
	if err != nil {
		return err
	}
	for _, g := range groups {
		keep := def
		if g.RetentionDays > 0 {
			keep = time.Duration(g.RetentionDays) * 24 * time.Hour
		}
		if keep <= 0 {
			continue
		}
		if err := l.expire(ctx, g, now.Add(-keep)); err != nil {
			return err
		}
	}
	return nil
}

// expire removes g's events ingested before cutoff.
func (l *Logs) expire(ctx context.Context, g lambada.LogGroup, cutoff time.Time) error {
	subjects := groupSubjects(g.Account, g.Name)
	keep := uint64(0) // the first sequence kept
	err := l.Scan(ctx, lambada.LogScan{Account: g.Account, Group: g.Name, Since: cutoff}, func(e lambada.LogEvent) bool {
		keep = e.Position >> 16
		return false
	})
	if err != nil {
		return err
	}
	opts := []natsjs.StreamPurgeOpt{natsjs.WithPurgeSubject(subjects)}
	if keep > 0 {
		opts = append(opts, natsjs.WithPurgeSequence(keep))
	}
	if err := l.stream.Purge(ctx, opts...); err != nil {
		return fmt.Errorf("jetstream: expire log events: %w", err)
	}
	return nil
}

// syncSet is a set of strings safe for concurrent use.
type syncSet struct {
	mu sync.Mutex
	m  map[string]bool
}

func (s *syncSet) has(k string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[k]
}

func (s *syncSet) add(k string) {
	s.mu.Lock()
	if s.m == nil {
		s.m = make(map[string]bool)
	}
	s.m[k] = true
	s.mu.Unlock()
}

func (s *syncSet) remove(k string) {
	s.mu.Lock()
	delete(s.m, k)
	s.mu.Unlock()
}
