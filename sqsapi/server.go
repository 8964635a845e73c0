// Package sqsapi serves the subset of the Amazon SQS API that Lambada offers
// (standard queues: create, look up, list, delete and purge them; send,
// receive, delete messages and change their visibility) in both of SQS's
// protocols: AWS JSON 1.0 (X-Amz-Target: AmazonSQS.<Operation>, what current
// SDKs and the AWS CLI speak) and the query protocol (form-encoded Action=…,
// answered in XML, what older SDKs speak). Both decode into the same inputs
// and call the same operations; this package is the one place that turns a
// lambada.Error into SQS's error types for each protocol.
//
// It holds no state of its own and does not store messages (package
// jetstream does); it does not serve the Lambda API, only recognises the
// requests that are its own (Server.Mount).
package sqsapi

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/lambada-dev/lambada"
)

// QueueStore keeps queues (jetstream.Queues).
type QueueStore interface {
	// CreateQueue creates the queue name, or returns the existing one when
	// its attributes equal attrs; ECONFLICT when they differ.
	CreateQueue(ctx context.Context, name string, attrs lambada.QueueAttributes) (*lambada.Queue, error)
	// Queue returns the queue name, or ENOTFOUND.
	Queue(ctx context.Context, name string) (*lambada.Queue, error)
	// QueueNames returns the names that begin with prefix, sorted.
	QueueNames(ctx context.Context, prefix string) ([]string, error)
	// Counts returns the queue's approximate message counts.
	Counts(ctx context.Context, name string) (lambada.QueueCounts, error)
	// DeleteQueue and PurgeQueue delete the queue, or its messages.
	DeleteQueue(ctx context.Context, name string) error
	PurgeQueue(ctx context.Context, name string) error
}

// MessageStore keeps the queues' messages (jetstream.Queues).
type MessageStore interface {
	// SendMessage stores a message, visible after delay (the queue's
	// DelaySeconds when nil).
	SendMessage(ctx context.Context, name, body string, attrs map[string]lambada.MessageAttribute, delay *time.Duration) (*lambada.Message, error)
	// Receive delivers up to opts.Max messages, waiting up to opts.Wait.
	Receive(ctx context.Context, name string, opts lambada.ReceiveOptions) ([]*lambada.ReceivedMessage, error)
	// DeleteMessage and ChangeVisibility act on the delivery handle names;
	// EINVALID with lambada.ReasonReceiptHandle for a foreign handle.
	DeleteMessage(ctx context.Context, name, handle string) error
	ChangeVisibility(ctx context.Context, name, handle string, d time.Duration) error
}

// Authorizer decides whether the caller of a request (in its context) may
// perform an IAM action (sqs:SendMessage, …) on a resource (a queue's ARN,
// or * for ListQueues): nil, or an EACCESSDENIED error with AWS's message.
type Authorizer interface {
	Authorize(ctx context.Context, action, resource, policy string) error
	// Account is the caller's account.
	Account(ctx context.Context) string
}

// Server is the SQS API's HTTP handler.
type Server struct {
	Queues   QueueStore
	Messages MessageStore

	// Authorizer, when set, decides every request.
	Authorizer Authorizer

	Region  string
	Account string
	Logger  *slog.Logger
}

// maxRequest bounds a request body: a message of 1 MiB, form-encoded.
const maxRequest = 8 << 20

// protocol is how a request was encoded, and so how to answer it.
type protocol int

const (
	protocolJSON protocol = iota
	protocolQuery
)

// request is one decoded SQS request.
type request struct {
	r        *http.Request
	protocol protocol
	action   string
	input    []byte // JSON, whichever the protocol
	account  string // the caller's account
	pathURL  string // the queue URL the request was posted to (query protocol), or ""
}

// output is an operation's answer in both forms. A nil output (or nil
// members) is an empty answer.
type output struct {
	json any
	xml  any // the members of <Action>Result; nil: no Result element
}

type operation func(s *Server, req *request) (*output, error)

// operations is the whole API.
var operations = map[string]operation{
	"CreateQueue":             (*Server).createQueue,
	"GetQueueUrl":             (*Server).getQueueURL,
	"GetQueueAttributes":      (*Server).getQueueAttributes,
	"ListQueues":              (*Server).listQueues,
	"DeleteQueue":             (*Server).deleteQueue,
	"PurgeQueue":              (*Server).purgeQueue,
	"SendMessage":             (*Server).sendMessage,
	"ReceiveMessage":          (*Server).receiveMessage,
	"DeleteMessage":           (*Server).deleteMessage,
	"ChangeMessageVisibility": (*Server).changeMessageVisibility,
}

// Mount returns a handler that serves SQS requests and passes every other
// request to next: those with X-Amz-Target AmazonSQS.*, and form-encoded
// requests to / or /<account>/<queue> whose Action is an SQS operation.
func (s *Server) Mount(next http.Handler) http.Handler {
	if s.Logger == nil {
		s.Logger = slog.New(slog.DiscardHandler)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if req, ok := s.recognise(r); ok {
			s.serve(w, req)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Recognises reports whether r is an SQS request (its body, if read, is
// left as it came).
func (s *Server) Recognises(r *http.Request) bool {
	_, ok := s.recognise(r)
	return ok
}

// recognise reports whether r is an SQS request and decodes it. A request
// that is not one is left as it came (its body restored).
func (s *Server) recognise(r *http.Request) (*request, bool) {
	if target, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), "AmazonSQS."); ok {
		return &request{r: r, protocol: protocolJSON, action: target}, true
	}
	segments := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if r.URL.Path != "/" && len(segments) != 2 {
		return nil, false
	}
	form := r.URL.Query()
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); r.Method == http.MethodPost && mt == "application/x-www-form-urlencoded" {
		body, err := io.ReadAll(io.LimitReader(r.Body, maxRequest))
		r.Body = io.NopCloser(bytes.NewReader(body))
		if err != nil {
			return nil, false
		}
		posted, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, false
		}
		for k, v := range posted {
			form[k] = append(form[k], v...)
		}
	}
	action := form.Get("Action")
	if _, ok := operations[action]; !ok {
		return nil, false
	}
	req := &request{r: r, protocol: protocolQuery, action: action, input: queryToJSON(form)}
	if len(segments) == 2 {
		req.pathURL = "http://" + r.Host + r.URL.Path
	}
	return req, true
}

// serve runs req and writes its answer or its error.
func (s *Server) serve(w http.ResponseWriter, req *request) {
	id := uuid.NewString()
	w.Header().Set("X-Amzn-Requestid", id)
	out, err := s.run(req)
	if err != nil {
		s.writeError(w, req, id, err)
		return
	}
	if req.protocol == protocolQuery {
		writeXML(w, req.action, id, out)
		return
	}
	body := []byte("{}")
	if out != nil && out.json != nil {
		if body, err = json.Marshal(out.json); err != nil {
			s.writeError(w, req, id, err)
			return
		}
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	_, _ = w.Write(body)
}

func (s *Server) run(req *request) (*output, error) {
	op, ok := operations[req.action]
	if !ok {
		return nil, wireErrorf("InvalidAction", "The action %s is not valid for this endpoint.", req.action)
	}
	if req.protocol == protocolJSON {
		b, err := io.ReadAll(io.LimitReader(req.r.Body, maxRequest))
		if err != nil {
			return nil, err
		}
		if len(bytes.TrimSpace(b)) == 0 {
			b = []byte("{}")
		}
		req.input = b
	}
	req.account = s.Account
	if s.Authorizer != nil {
		req.account = cmp.Or(s.Authorizer.Account(req.r.Context()), s.Account)
	}
	if err := s.authorize(req); err != nil {
		return nil, err
	}
	return op(s, req)
}

// authorize asks the Authorizer whether the caller may perform req's
// action on the queue it names: the one of QueueName (and
// QueueOwnerAWSAccountId) for CreateQueue and GetQueueUrl, of QueueUrl (or
// the URL posted to) for the others. It fails closed: a request whose
// queue cannot be told is decided on the caller's account's "*".
func (s *Server) authorize(req *request) error {
	if s.Authorizer == nil {
		return nil
	}
	resource := "arn:aws:sqs:" + s.Region + ":" + req.account + ":*"
	switch req.action {
	case "ListQueues":
		resource = "*" // it acts on no queue
	case "CreateQueue", "GetQueueUrl":
		var in struct{ QueueName, QueueOwnerAWSAccountId string }
		_ = json.Unmarshal(req.input, &in)
		owner := cmp.Or(in.QueueOwnerAWSAccountId, req.account)
		if lambada.ValidateQueueName(in.QueueName) == nil && lambada.ValidAccountID(owner) {
			resource = lambada.QueueARN(s.Region, owner, in.QueueName)
		}
	default:
		var in struct{ QueueUrl string }
		_ = json.Unmarshal(req.input, &in)
		if key, err := s.queueName(req, in.QueueUrl); err == nil {
			resource = s.queueARN(key)
		}
	}
	return s.Authorizer.Authorize(req.r.Context(), "sqs:"+req.action, resource, "")
}

// decode reads the request's input into v.
func (req *request) decode(v any) error {
	if err := json.Unmarshal(req.input, v); err != nil {
		return wireErrorf("InvalidParameterValue", "The request could not be decoded: %v", err)
	}
	return nil
}

// queue returns the key and the record of the queue a request names.
func (s *Server) queue(req *request, queueURL string) (string, *lambada.Queue, error) {
	name, err := s.queueName(req, queueURL)
	if err != nil {
		return "", nil, err
	}
	q, err := s.Queues.Queue(req.r.Context(), name)
	return name, q, err
}

func (s *Server) queueName(req *request, queueURL string) (string, error) {
	if queueURL == "" {
		queueURL = req.pathURL
	}
	if queueURL == "" {
		return "", missing("QueueUrl")
	}
	u, err := url.Parse(queueURL)
	if err != nil {
		return "", lambada.Errorf(lambada.ENOTFOUND, "The specified queue does not exist.")
	}
	segments := strings.Split(strings.Trim(u.Path, "/"), "/")
	if len(segments) != 2 || !s.knownAccount(segments[0]) || lambada.ValidateQueueName(segments[1]) != nil {
		return "", lambada.Errorf(lambada.ENOTFOUND, "The specified queue does not exist.")
	}
	return s.key(segments[0], segments[1]), nil
}

// knownAccount reports whether account may own queues here: the node's
// own, or with an Authorizer any (whose principals may be of any
// account).
func (s *Server) knownAccount(account string) bool {
	return account == s.Account || s.Authorizer != nil && lambada.ValidAccountID(account)
}

// key is the AccountKey of the queue name of account.
func (s *Server) key(account, name string) string {
	return lambada.AccountKey(s.Account, account, name)
}

// queueAccount is the account and the name of the queue whose key is key.
func (s *Server) queueAccount(key string) (account, name string) {
	account, name = lambada.SplitAccountKey(key)
	return cmp.Or(account, s.Account), name
}

// queueARN is the ARN of the queue whose key is key.
func (s *Server) queueARN(key string) string {
	account, name := s.queueAccount(key)
	return lambada.QueueARN(s.Region, account, name)
}

// queueURL is the URL of the queue whose key is key, as the request's
// client reached this server.
func (s *Server) queueURL(req *request, key string) string {
	account, name := s.queueAccount(key)
	return "http://" + req.r.Host + "/" + account + "/" + name
}
