package jetstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lambada-dev/lambada"
	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"
)

// Names of the queue buckets.
const (
	QueuesBucket   = "lambada_queues"         // key-value: queue name → JSON of queueRecord
	ReceivesBucket = "lambada_queue_receives" // key-value: <stream>.<sequence> → first receive, unix ms
)

const (
	// consumerName is the one durable pull consumer of each queue's stream.
	consumerName = "sqs"
	// maxInFlight is SQS's limit of in-flight messages of a standard queue.
	maxInFlight = 120000
	// ackTimeout bounds an ack or a NAK's confirmation when the request's
	// context has no deadline.
	ackTimeout = 10 * time.Second
)

// Queues keeps SQS standard queues in JetStream, with no state of its own in
// memory, so that any number of nodes may share one JetStream cluster:
//
//   - each queue's record (attributes, times, generation) is a key of the
//     QueuesBucket;
//   - each generation of a queue (deleting a queue and creating it again
//     makes a new one) is a work-queue stream, lambada_q_<name>_<generation>,
//     whose messages are published on lambada.q.<name>.<generation>.ready,
//     or scheduled there from .delay.<id> when sent with a delay;
//   - one durable pull consumer with explicit acks delivers them: a receive
//     is a fetch, the visibility timeout is the ack wait (or a NAK with that
//     delay when a receive or ChangeMessageVisibility asks for another), the
//     receipt handle is the delivery's ack subject, DeleteMessage is an ack,
//     and the delivery count is ApproximateReceiveCount;
//   - the time of each message's first receive is a key of ReceivesBucket,
//     expiring with the longest retention.
type Queues struct {
	js       natsjs.JetStream
	conn     *nats.Conn
	kv       natsjs.KeyValue
	receives natsjs.KeyValue
	logger   *slog.Logger
	now      func() time.Time
	replicas int // of each queue's stream
}

// queueRecord is the stored form of a queue.
type queueRecord struct {
	Attributes lambada.QueueAttributes `json:"attributes"`
	Created    time.Time               `json:"created"`
	Modified   time.Time               `json:"modified"`
	Generation string                  `json:"generation"`
}

// envelope is the stored form of a message.
type envelope struct {
	ID         string                              `json:"id"`
	Body       string                              `json:"body"`
	Attributes map[string]lambada.MessageAttribute `json:"attributes,omitempty"`
	Sent       int64                               `json:"sent"` // unix ms
}

func openQueues(ctx context.Context, js natsjs.JetStream, conn *nats.Conn, replicas int, logger *slog.Logger) (*Queues, error) {
	q := &Queues{js: js, conn: conn, logger: logger, now: time.Now, replicas: replicas}
	var err error
	q.kv, err = js.CreateOrUpdateKeyValue(ctx, natsjs.KeyValueConfig{
		Bucket:      QueuesBucket,
		Description: "Lambada SQS queue records",
		History:     1,
		Storage:     natsjs.FileStorage,
		Replicas:    replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("jetstream: bucket %s: %w", QueuesBucket, err)
	}
	q.receives, err = js.CreateOrUpdateKeyValue(ctx, natsjs.KeyValueConfig{
		Bucket:      ReceivesBucket,
		Description: "Lambada SQS first receive times",
		History:     1,
		TTL:         lambada.MaxMessageRetentionPeriod * time.Second,
		Storage:     natsjs.FileStorage,
		Replicas:    replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("jetstream: bucket %s: %w", ReceivesBucket, err)
	}
	return q, nil
}

// streamName is the stream of a queue's messages. A queue of another
// account (name "<account>/<queue>") has "<account>=<queue>": "=" is in no
// queue's name, "/" may be in no stream's, and the name is also a token of
// the receives bucket's keys.
func streamName(name string, rec *queueRecord) string {
	return "lambada_q_" + strings.Replace(name, "/", "=", 1) + "_" + rec.Generation
}

// validQueueKey returns the error for a queue key that is not an
// AccountKey of a valid queue name.
func validQueueKey(key string) error {
	account, name := lambada.SplitAccountKey(key)
	if account != "" && !lambada.ValidAccountID(account) {
		return lambada.ValidateQueueName(key) // refused for its "/"
	}
	return lambada.ValidateQueueName(name)
}

func subjectPrefix(name string, rec *queueRecord) string {
	return "lambada.q." + name + "." + rec.Generation
}

func ackWait(rec *queueRecord) time.Duration {
	// A zero ack wait means the server's default; a queue whose visibility
	// timeout is 0 NAKs each delivery at once instead.
	return max(time.Duration(rec.Attributes.VisibilityTimeout)*time.Second, time.Second)
}

func queueNotFound() error {
	return lambada.Errorf(lambada.ENOTFOUND, "The specified queue does not exist.")
}

// record returns the stored record of the queue name, or ENOTFOUND.
func (q *Queues) record(ctx context.Context, name string) (*queueRecord, uint64, error) {
	if validQueueKey(name) != nil {
		return nil, 0, queueNotFound()
	}
	e, err := q.kv.Get(ctx, name)
	if errors.Is(err, natsjs.ErrKeyNotFound) {
		return nil, 0, queueNotFound()
	} else if err != nil {
		return nil, 0, fmt.Errorf("jetstream: get queue %s: %w", name, err)
	}
	var rec queueRecord
	if err := json.Unmarshal(e.Value(), &rec); err != nil {
		return nil, 0, fmt.Errorf("jetstream: decode queue %s: %w", name, err)
	}
	return &rec, e.Revision(), nil
}

func (rec *queueRecord) queue(name string) *lambada.Queue {
	return &lambada.Queue{Name: name, Attributes: rec.Attributes, Created: rec.Created, Modified: rec.Modified}
}

// CreateQueue creates the queue name with attrs, or returns the existing
// queue when its attributes equal attrs. It returns ECONFLICT when they
// differ, and EINVALID for an invalid name.
func (q *Queues) CreateQueue(ctx context.Context, name string, attrs lambada.QueueAttributes) (*lambada.Queue, error) {
	if err := validQueueKey(name); err != nil {
		return nil, err
	}
	for range 2 { // a second pass when another node created it meanwhile
		rec, _, err := q.record(ctx, name)
		if err == nil {
			if diff := differingAttribute(rec.Attributes, attrs); diff != "" {
				return nil, lambada.Errorf(lambada.ECONFLICT, "A queue already exists with the same name and a different value for attribute %s", diff)
			}
			return rec.queue(name), nil
		} else if lambada.ErrorCode(err) != lambada.ENOTFOUND {
			return nil, err
		}
		now := q.now().UTC()
		rec = &queueRecord{Attributes: attrs, Created: now, Modified: now, Generation: strconv.FormatInt(now.UnixNano(), 36)}
		if err := q.createStream(ctx, name, rec); err != nil {
			return nil, err
		}
		b, err := json.Marshal(rec)
		if err != nil {
			return nil, err
		}
		_, err = q.kv.Create(ctx, name, b)
		if err == nil {
			return rec.queue(name), nil
		}
		q.deleteStream(ctx, name, rec)
		if !errors.Is(err, natsjs.ErrKeyExists) && !isWrongLastSequence(err) {
			return nil, fmt.Errorf("jetstream: create queue %s: %w", name, err)
		}
	}
	return nil, fmt.Errorf("jetstream: create queue %s: created and deleted while creating", name)
}

// differingAttribute names the first attribute whose values differ, or "".
func differingAttribute(a, b lambada.QueueAttributes) string {
	switch {
	case a.DelaySeconds != b.DelaySeconds:
		return "DelaySeconds"
	case a.MaximumMessageSize != b.MaximumMessageSize:
		return "MaximumMessageSize"
	case a.MessageRetentionPeriod != b.MessageRetentionPeriod:
		return "MessageRetentionPeriod"
	case a.ReceiveMessageWaitTimeSeconds != b.ReceiveMessageWaitTimeSeconds:
		return "ReceiveMessageWaitTimeSeconds"
	case a.VisibilityTimeout != b.VisibilityTimeout:
		return "VisibilityTimeout"
	}
	return ""
}

func (q *Queues) createStream(ctx context.Context, name string, rec *queueRecord) error {
	prefix := subjectPrefix(name, rec)
	s, err := q.js.CreateStream(ctx, natsjs.StreamConfig{
		Name:              streamName(name, rec),
		Description:       "Lambada SQS queue " + name,
		Subjects:          []string{prefix + ".>"},
		Retention:         natsjs.WorkQueuePolicy,
		MaxAge:            time.Duration(rec.Attributes.MessageRetentionPeriod) * time.Second,
		Storage:           natsjs.FileStorage,
		AllowMsgSchedules: true,
		Replicas:          q.replicas,
	})
	if err != nil {
		return fmt.Errorf("jetstream: create stream of queue %s: %w", name, err)
	}
	_, err = s.CreateConsumer(ctx, natsjs.ConsumerConfig{
		Durable:       consumerName,
		FilterSubject: prefix + ".ready",
		AckPolicy:     natsjs.AckExplicitPolicy,
		AckWait:       ackWait(rec),
		MaxDeliver:    -1,
		MaxAckPending: maxInFlight,
		MaxWaiting:    10000, // long polls at once
	})
	if err != nil {
		q.deleteStream(ctx, name, rec)
		return fmt.Errorf("jetstream: create consumer of queue %s: %w", name, err)
	}
	return nil
}

func (q *Queues) deleteStream(ctx context.Context, name string, rec *queueRecord) {
	err := q.js.DeleteStream(ctx, streamName(name, rec))
	if err != nil && !errors.Is(err, natsjs.ErrStreamNotFound) {
		q.logger.Error("delete queue stream", "queue", name, "stream", streamName(name, rec), "err", err)
	}
}

// Queue returns the queue name, or ENOTFOUND.
func (q *Queues) Queue(ctx context.Context, name string) (*lambada.Queue, error) {
	rec, _, err := q.record(ctx, name)
	if err != nil {
		return nil, err
	}
	return rec.queue(name), nil
}

// QueueNames returns the names of the queues that begin with prefix,
// sorted.
func (q *Queues) QueueNames(ctx context.Context, prefix string) ([]string, error) {
	l, err := q.kv.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("jetstream: list queues: %w", err)
	}
	defer l.Stop()
	var names []string
	for k := range l.Keys() {
		if strings.HasPrefix(k, prefix) {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	return names, nil
}

// DeleteQueue deletes the queue name and its messages, or returns
// ENOTFOUND.
func (q *Queues) DeleteQueue(ctx context.Context, name string) error {
	rec, rev, err := q.record(ctx, name)
	if err != nil {
		return err
	}
	err = q.kv.Purge(ctx, name, natsjs.LastRevision(rev))
	if errors.Is(err, natsjs.ErrKeyRevisionMismatch) || isWrongLastSequence(err) {
		return queueNotFound() // deleted (or deleted and created) meanwhile
	} else if err != nil {
		return fmt.Errorf("jetstream: delete queue %s: %w", name, err)
	}
	q.deleteStream(ctx, name, rec)
	return nil
}

// PurgeQueue deletes every message of the queue name, in flight and
// delayed ones too, or returns ENOTFOUND.
func (q *Queues) PurgeQueue(ctx context.Context, name string) error {
	rec, _, err := q.record(ctx, name)
	if err != nil {
		return err
	}
	s, err := q.js.Stream(ctx, streamName(name, rec))
	if errors.Is(err, natsjs.ErrStreamNotFound) {
		return queueNotFound()
	} else if err != nil {
		return fmt.Errorf("jetstream: purge queue %s: %w", name, err)
	}
	if err := s.Purge(ctx); err != nil {
		return fmt.Errorf("jetstream: purge queue %s: %w", name, err)
	}
	return nil
}

// Counts returns the approximate message counts of the queue name. A
// message whose visibility timeout has passed counts as not visible until
// it is received again.
func (q *Queues) Counts(ctx context.Context, name string) (lambada.QueueCounts, error) {
	rec, _, err := q.record(ctx, name)
	if err != nil {
		return lambada.QueueCounts{}, err
	}
	s, err := q.js.Stream(ctx, streamName(name, rec))
	if err != nil {
		return lambada.QueueCounts{}, fmt.Errorf("jetstream: queue %s: %w", name, err)
	}
	c, err := s.Consumer(ctx, consumerName)
	if err != nil {
		return lambada.QueueCounts{}, fmt.Errorf("jetstream: queue %s: %w", name, err)
	}
	ci, err := c.Info(ctx)
	if err != nil {
		return lambada.QueueCounts{}, fmt.Errorf("jetstream: queue %s: %w", name, err)
	}
	si, err := s.Info(ctx)
	if err != nil {
		return lambada.QueueCounts{}, fmt.Errorf("jetstream: queue %s: %w", name, err)
	}
	// Acked messages leave the work-queue stream: what remains is ready,
	// in flight, or scheduled.
	counts := lambada.QueueCounts{Visible: int(ci.NumPending), NotVisible: ci.NumAckPending}
	counts.Delayed = max(int(si.State.Msgs)-counts.Visible-counts.NotVisible, 0)
	return counts, nil
}
