package jetstream

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/lambada-dev/lambada"
	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"
)

// Send stores a message with body and attrs in the queue whose
// AccountKey is queue, with the queue's default delay. It returns once
// JetStream has stored the message, ENOTFOUND when the queue does not
// exist, and EINVALID for an invalid attribute or a message above the
// queue's maximum size.
func (q *Queues) Send(ctx context.Context, queue string, body string, attrs map[string]lambada.MessageAttribute) error {
	_, err := q.SendMessage(ctx, queue, body, attrs, nil)
	return err
}

// SendMessage stores a message in the queue name, visible after delay (the
// queue's DelaySeconds when nil), and returns it with its ID and sent time.
func (q *Queues) SendMessage(ctx context.Context, name, body string, attrs map[string]lambada.MessageAttribute, delay *time.Duration) (*lambada.Message, error) {
	rec, _, err := q.record(ctx, name)
	if err != nil {
		return nil, err
	}
	for n, a := range attrs {
		if err := lambada.ValidateMessageAttribute(n, a); err != nil {
			return nil, err
		}
	}
	if size := lambada.MessageSize(body, attrs); size > rec.Attributes.MaximumMessageSize {
		return nil, lambada.Errorf(lambada.EINVALID, "One or more parameters are invalid. Reason: Message must be shorter than %d bytes.", rec.Attributes.MaximumMessageSize)
	}
	d := time.Duration(rec.Attributes.DelaySeconds) * time.Second
	if delay != nil {
		d = *delay
	}
	now := q.now()
	m := &lambada.Message{ID: uuid.NewString(), Body: body, Attributes: attrs, Sent: now.Truncate(time.Millisecond)}
	data, err := json.Marshal(envelope{ID: m.ID, Body: body, Attributes: attrs, Sent: now.UnixMilli()})
	if err != nil {
		return nil, err
	}
	prefix := subjectPrefix(name, rec)
	opts := []natsjs.PublishOpt{natsjs.WithExpectStream(streamName(name, rec))}
	subject := prefix + ".ready"
	if d > 0 {
		// Schedules have a resolution of a second: the message turns
		// visible at the first whole second after the delay.
		at := now.Add(d).Truncate(time.Second).Add(time.Second)
		subject = prefix + ".delay." + m.ID
		opts = append(opts, natsjs.WithScheduleAt(at), natsjs.WithScheduleTarget(prefix+".ready"))
	}
	if _, err := q.js.Publish(ctx, subject, data, opts...); err != nil {
		if errors.Is(err, natsjs.ErrNoStreamResponse) {
			return nil, queueNotFound() // deleted meanwhile
		}
		return nil, fmt.Errorf("jetstream: send to queue %s: %w", name, err)
	}
	return m, nil
}

// Receive delivers up to opts.Max messages of the queue name, waiting up to
// opts.Wait for the first one, and hides them for opts.Visibility.
func (q *Queues) Receive(ctx context.Context, name string, opts lambada.ReceiveOptions) ([]*lambada.ReceivedMessage, error) {
	rec, _, err := q.record(ctx, name)
	if err != nil {
		return nil, err
	}
	c, err := q.js.Consumer(ctx, streamName(name, rec), consumerName)
	if errors.Is(err, natsjs.ErrStreamNotFound) || errors.Is(err, natsjs.ErrConsumerNotFound) {
		return nil, queueNotFound()
	} else if err != nil {
		return nil, fmt.Errorf("jetstream: receive from queue %s: %w", name, err)
	}
	msgs, err := fetch(c.FetchNoWait(max(opts.Max, 1)))
	if err != nil {
		return nil, fmt.Errorf("jetstream: receive from queue %s: %w", name, err)
	}
	if len(msgs) == 0 && opts.Wait > 0 {
		// A long poll asks for one message, so that the pull request ends
		// with it: a larger batch would stay pending on the server and take
		// messages that arrive after the answer.
		wctx, cancel := context.WithTimeout(ctx, opts.Wait)
		msgs, err = fetch(c.Fetch(1, natsjs.FetchContext(wctx)))
		cancel()
		if err != nil && ctx.Err() == nil {
			return nil, fmt.Errorf("jetstream: receive from queue %s: %w", name, err)
		}
		if len(msgs) > 0 && opts.Max > 1 {
			more, err := fetch(c.FetchNoWait(opts.Max - 1))
			if err != nil {
				q.logger.Error("receive more", "queue", name, "err", err)
			}
			msgs = append(msgs, more...)
		}
	}
	out := make([]*lambada.ReceivedMessage, 0, len(msgs))
	for _, m := range msgs {
		rm, err := q.delivered(ctx, rec, m, opts.Visibility)
		if err != nil {
			q.logger.Error("undecodable message: terminated", "queue", name, "subject", m.Subject(), "err", err)
			_ = m.Term()
			continue
		}
		out = append(out, rm)
	}
	return out, nil
}

// fetch collects a batch's messages. A fetch that found none is no error.
func fetch(b natsjs.MessageBatch, err error) ([]natsjs.Msg, error) {
	if err != nil {
		return nil, err
	}
	var msgs []natsjs.Msg
	for m := range b.Messages() {
		msgs = append(msgs, m)
	}
	if err := b.Error(); err != nil && !errors.Is(err, natsjs.ErrNoMessages) &&
		!errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) && !errors.Is(err, nats.ErrTimeout) {
		return msgs, err
	}
	return msgs, nil
}

// delivered turns a fetched message into a received one, hiding it for
// visibility and recording its first receive.
func (q *Queues) delivered(ctx context.Context, rec *queueRecord, m natsjs.Msg, visibility time.Duration) (*lambada.ReceivedMessage, error) {
	meta, err := m.Metadata()
	if err != nil {
		return nil, err
	}
	var env envelope
	if err := json.Unmarshal(m.Data(), &env); err != nil {
		return nil, err
	}
	if visibility != ackWait(rec) {
		if err := m.NakWithDelay(visibility); err != nil {
			return nil, err
		}
	}
	now := q.now()
	first := now
	key := meta.Stream + "." + strconv.FormatUint(meta.Sequence.Stream, 10)
	if meta.NumDelivered == 1 {
		if _, err := q.receives.Put(ctx, key, []byte(strconv.FormatInt(now.UnixMilli(), 10))); err != nil {
			q.logger.Error("record first receive", "key", key, "err", err)
		}
	} else if e, err := q.receives.Get(ctx, key); err == nil {
		if ms, err := strconv.ParseInt(string(e.Value()), 10, 64); err == nil {
			first = time.UnixMilli(ms)
		}
	}
	return &lambada.ReceivedMessage{
		Message: lambada.Message{
			ID:         env.ID,
			Body:       env.Body,
			Attributes: env.Attributes,
			Sent:       time.UnixMilli(env.Sent),
		},
		ReceiptHandle: base64.RawURLEncoding.EncodeToString([]byte(m.Reply())),
		ReceiveCount:  int(meta.NumDelivered),
		FirstReceived: first,
	}, nil
}

// DeleteMessage deletes the message that handle delivered from the queue
// name. It returns EINVALID with ReasonReceiptHandle for a handle that no
// receive of this queue issued; deleting a deleted message succeeds.
func (q *Queues) DeleteMessage(ctx context.Context, name, handle string) error {
	return q.reply(ctx, name, handle, "+ACK")
}

// ChangeVisibility hides the message that handle delivered for d from now
// (0: visible at once). Errors are DeleteMessage's.
func (q *Queues) ChangeVisibility(ctx context.Context, name, handle string, d time.Duration) error {
	return q.reply(ctx, name, handle, fmt.Sprintf(`-NAK {"delay":%d}`, d.Nanoseconds()))
}

// reply sends body to the ack subject in handle and waits for the server to
// confirm it.
func (q *Queues) reply(ctx context.Context, name, handle, body string) error {
	rec, _, err := q.record(ctx, name)
	if err != nil {
		return err
	}
	subject, ok := ackSubject(handle, streamName(name, rec))
	if !ok {
		return &lambada.Error{Code: lambada.EINVALID, Reason: lambada.ReasonReceiptHandle,
			Message: fmt.Sprintf("The input receipt handle %q is not a valid receipt handle.", handle)}
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, ackTimeout)
		defer cancel()
	}
	_, err = q.conn.RequestWithContext(ctx, subject, []byte(body))
	if errors.Is(err, nats.ErrNoResponders) {
		return nil // the queue's stream is gone: nothing left to change
	} else if err != nil {
		return fmt.Errorf("jetstream: %s on queue %s: %w", strings.Fields(body)[0], name, err)
	}
	return nil
}

// ackSubject decodes a receipt handle: the ack subject of a delivery by the
// consumer of stream, in either of its forms
// ($JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<time>.<pending>,
// or with a domain and an account hash before the stream and a token after).
func ackSubject(handle, stream string) (string, bool) {
	b, err := base64.RawURLEncoding.DecodeString(handle)
	if err != nil {
		return "", false
	}
	s := string(b)
	tokens := strings.Split(s, ".")
	if len(tokens) < 2 || tokens[0] != "$JS" || tokens[1] != "ACK" {
		return "", false
	}
	switch len(tokens) {
	case 9:
		tokens = tokens[2:]
	case 12:
		tokens = tokens[4:]
	default:
		return "", false
	}
	if tokens[0] != stream || tokens[1] != consumerName {
		return "", false
	}
	for _, t := range tokens[2:7] {
		if _, err := strconv.ParseUint(t, 10, 64); err != nil {
			return "", false
		}
	}
	return s, true
}
