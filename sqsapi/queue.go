package sqsapi

import (
	"cmp"
	"slices"
	"strconv"

	"github.com/lambada-dev/lambada"
)

// attributeRange is the range of one settable queue attribute.
type attributeRange struct {
	min, max int
	field    func(*lambada.QueueAttributes) *int
}

var settable = map[string]attributeRange{
	"VisibilityTimeout":             {0, lambada.MaxVisibilityTimeout, func(a *lambada.QueueAttributes) *int { return &a.VisibilityTimeout }},
	"MessageRetentionPeriod":        {lambada.MinMessageRetentionPeriod, lambada.MaxMessageRetentionPeriod, func(a *lambada.QueueAttributes) *int { return &a.MessageRetentionPeriod }},
	"DelaySeconds":                  {0, lambada.MaxDelaySeconds, func(a *lambada.QueueAttributes) *int { return &a.DelaySeconds }},
	"ReceiveMessageWaitTimeSeconds": {0, lambada.MaxReceiveWaitTimeSeconds, func(a *lambada.QueueAttributes) *int { return &a.ReceiveMessageWaitTimeSeconds }},
	"MaximumMessageSize":            {lambada.MinMaximumMessageSize, lambada.MaxMaximumMessageSize, func(a *lambada.QueueAttributes) *int { return &a.MaximumMessageSize }},
}

// queueAttributeNames are the names GetQueueAttributes answers, "All" their
// union.
var queueAttributeNames = []string{
	"ApproximateNumberOfMessages", "ApproximateNumberOfMessagesDelayed", "ApproximateNumberOfMessagesNotVisible",
	"CreatedTimestamp", "DelaySeconds", "LastModifiedTimestamp", "MaximumMessageSize", "MessageRetentionPeriod",
	"QueueArn", "ReceiveMessageWaitTimeSeconds", "VisibilityTimeout",
}

// parseQueueAttributes applies CreateQueue's Attributes to the defaults.
func parseQueueAttributes(in map[string]string) (lambada.QueueAttributes, error) {
	attrs := lambada.DefaultQueueAttributes()
	for name, value := range in {
		if name == "FifoQueue" || name == "ContentBasedDeduplication" {
			if value == "false" {
				continue
			}
			return attrs, wireErrorf("UnsupportedOperation", "FIFO queues are not supported: Lambada offers standard queues only.")
		}
		r, ok := settable[name]
		if !ok {
			return attrs, wireErrorf("InvalidAttributeName", "Unknown Attribute %s.", name)
		}
		n, err := strconv.Atoi(value)
		if err != nil || n < r.min || n > r.max {
			return attrs, wireErrorf("InvalidAttributeValue", "Invalid value for the parameter %s.", name)
		}
		*r.field(&attrs) = n
	}
	return attrs, nil
}

func (s *Server) createQueue(req *request) (*output, error) {
	var in struct {
		QueueName  string
		Attributes map[string]string
	}
	if err := req.decode(&in); err != nil {
		return nil, err
	}
	if in.QueueName == "" {
		return nil, missing("QueueName")
	}
	if err := lambada.ValidateQueueName(in.QueueName); err != nil {
		return nil, err
	}
	attrs, err := parseQueueAttributes(in.Attributes)
	if err != nil {
		return nil, err
	}
	key := s.key(req.account, in.QueueName)
	if _, err := s.Queues.CreateQueue(req.r.Context(), key, attrs); err != nil {
		return nil, err
	}
	return queueURLOutput(s.queueURL(req, key)), nil
}

func queueURLOutput(u string) *output {
	return &output{
		json: map[string]string{"QueueUrl": u},
		xml:  struct{ QueueUrl string }{u},
	}
}

func (s *Server) getQueueURL(req *request) (*output, error) {
	var in struct {
		QueueName              string
		QueueOwnerAWSAccountId string
	}
	if err := req.decode(&in); err != nil {
		return nil, err
	}
	if in.QueueName == "" {
		return nil, missing("QueueName")
	}
	owner := cmp.Or(in.QueueOwnerAWSAccountId, req.account)
	if !s.knownAccount(owner) || lambada.ValidateQueueName(in.QueueName) != nil {
		return nil, lambada.Errorf(lambada.ENOTFOUND, "The specified queue does not exist.")
	}
	key := s.key(owner, in.QueueName)
	if _, err := s.Queues.Queue(req.r.Context(), key); err != nil {
		return nil, err
	}
	return queueURLOutput(s.queueURL(req, key)), nil
}

func (s *Server) getQueueAttributes(req *request) (*output, error) {
	var in struct {
		QueueUrl       string
		AttributeNames []string
	}
	if err := req.decode(&in); err != nil {
		return nil, err
	}
	ctx := req.r.Context()
	name, q, err := s.queue(req, in.QueueUrl)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, n := range in.AttributeNames {
		switch {
		case n == "All":
			names = append(names, queueAttributeNames...)
		case slices.Contains(queueAttributeNames, n):
			names = append(names, n)
		default:
			return nil, wireErrorf("InvalidAttributeName", "Unknown Attribute %s.", n)
		}
	}
	var counts *lambada.QueueCounts
	out := map[string]string{}
	for _, n := range names {
		if counts == nil && (n == "ApproximateNumberOfMessages" || n == "ApproximateNumberOfMessagesNotVisible" || n == "ApproximateNumberOfMessagesDelayed") {
			c, err := s.Queues.Counts(ctx, name)
			if err != nil {
				return nil, err
			}
			counts = &c
		}
		out[n] = queueAttribute(s, q, counts, n)
	}
	o := &output{json: map[string]any{}, xml: struct{ Attribute []xmlAttribute }{xmlAttributes(out)}}
	if len(out) > 0 {
		o.json = map[string]any{"Attributes": out}
	}
	return o, nil
}

func queueAttribute(s *Server, q *lambada.Queue, counts *lambada.QueueCounts, name string) string {
	a := q.Attributes
	itoa := strconv.Itoa
	switch name {
	case "ApproximateNumberOfMessages":
		return itoa(counts.Visible)
	case "ApproximateNumberOfMessagesNotVisible":
		return itoa(counts.NotVisible)
	case "ApproximateNumberOfMessagesDelayed":
		return itoa(counts.Delayed)
	case "CreatedTimestamp":
		return strconv.FormatInt(q.Created.Unix(), 10)
	case "LastModifiedTimestamp":
		return strconv.FormatInt(q.Modified.Unix(), 10)
	case "QueueArn":
		return s.queueARN(q.Name)
	case "DelaySeconds":
		return itoa(a.DelaySeconds)
	case "MaximumMessageSize":
		return itoa(a.MaximumMessageSize)
	case "MessageRetentionPeriod":
		return itoa(a.MessageRetentionPeriod)
	case "ReceiveMessageWaitTimeSeconds":
		return itoa(a.ReceiveMessageWaitTimeSeconds)
	case "VisibilityTimeout":
		return itoa(a.VisibilityTimeout)
	}
	return ""
}

func (s *Server) listQueues(req *request) (*output, error) {
	var in struct {
		QueueNamePrefix string
		MaxResults      *int
		NextToken       string
	}
	if err := req.decode(&in); err != nil {
		return nil, err
	}
	if in.MaxResults != nil && (*in.MaxResults < 1 || *in.MaxResults > 1000) {
		return nil, invalidValue("MaxResults", *in.MaxResults, "MaxResults must be an integer between 1 and 1000.")
	}
	all, err := s.Queues.QueueNames(req.r.Context(), s.key(req.account, in.QueueNamePrefix))
	if err != nil {
		return nil, err
	}
	// The caller's account's queues only (an empty prefix lists every
	// account's keys).
	own, _ := lambada.SplitAccountKey(s.key(req.account, "x"))
	names := all[:0:0]
	for _, key := range all {
		if account, _ := lambada.SplitAccountKey(key); account == own {
			names = append(names, key)
		}
	}
	if in.NextToken != "" { // the last name of the previous page
		i, _ := slices.BinarySearch(names, in.NextToken)
		for i < len(names) && names[i] <= in.NextToken {
			i++
		}
		names = names[i:]
	}
	next := ""
	if in.MaxResults != nil && len(names) > *in.MaxResults {
		names = names[:*in.MaxResults]
		next = names[len(names)-1]
	} else if len(names) > 1000 {
		names = names[:1000]
	}
	urls := make([]string, len(names))
	for i, n := range names {
		urls[i] = s.queueURL(req, n)
	}
	j := map[string]any{}
	if len(urls) > 0 {
		j["QueueUrls"] = urls
	}
	if next != "" {
		j["NextToken"] = next
	}
	return &output{json: j, xml: struct {
		QueueUrl  []string
		NextToken string `xml:",omitempty"`
	}{urls, next}}, nil
}

func (s *Server) deleteQueue(req *request) (*output, error) {
	name, err := s.decodeQueueURL(req)
	if err != nil {
		return nil, err
	}
	return nil, s.Queues.DeleteQueue(req.r.Context(), name)
}

func (s *Server) purgeQueue(req *request) (*output, error) {
	name, err := s.decodeQueueURL(req)
	if err != nil {
		return nil, err
	}
	return nil, s.Queues.PurgeQueue(req.r.Context(), name)
}

// decodeQueueURL decodes an input of only a QueueUrl.
func (s *Server) decodeQueueURL(req *request) (string, error) {
	var in struct{ QueueUrl string }
	if err := req.decode(&in); err != nil {
		return "", err
	}
	return s.queueName(req, in.QueueUrl)
}
