package sqsapi

import (
	"encoding/base64"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/lambada-dev/lambada"
)

// attributeValue is a MessageAttributeValue in JSON, which encodes
// BinaryValue in base64.
type attributeValue struct {
	DataType    string
	StringValue string `json:",omitempty"`
	BinaryValue []byte `json:",omitempty"`
}

// xmlAttributeValue is a MessageAttributeValue in XML, BinaryValue in
// base64 too.
type xmlAttributeValue struct {
	DataType    string
	StringValue string `xml:",omitempty"`
	BinaryValue string `xml:",omitempty"`
}

// systemAttributeNames are the message system attributes ReceiveMessage
// answers, "All" their union.
var systemAttributeNames = []string{"ApproximateFirstReceiveTimestamp", "ApproximateReceiveCount", "SenderId", "SentTimestamp"}

func (s *Server) sendMessage(req *request) (*output, error) {
	var in struct {
		QueueUrl          string
		MessageBody       string
		DelaySeconds      *int
		MessageAttributes map[string]attributeValue
		MessageGroupId    string
	}
	if err := req.decode(&in); err != nil {
		return nil, err
	}
	name, err := s.queueName(req, in.QueueUrl)
	if err != nil {
		return nil, err
	}
	if in.MessageBody == "" {
		return nil, missing("MessageBody")
	}
	if in.MessageGroupId != "" {
		return nil, wireErrorf("InvalidParameterValue", "The request include parameter that is not valid for this queue type")
	}
	var delay *time.Duration
	if in.DelaySeconds != nil {
		if *in.DelaySeconds < 0 || *in.DelaySeconds > lambada.MaxDelaySeconds {
			return nil, invalidValue("DelaySeconds", *in.DelaySeconds, "DelaySeconds must be >= 0 and <= 900")
		}
		d := time.Duration(*in.DelaySeconds) * time.Second
		delay = &d
	}
	var attrs map[string]lambada.MessageAttribute
	if len(in.MessageAttributes) > 0 {
		attrs = make(map[string]lambada.MessageAttribute, len(in.MessageAttributes))
		for n, v := range in.MessageAttributes {
			attrs[n] = lambada.MessageAttribute(v)
		}
	}
	m, err := s.Messages.SendMessage(req.r.Context(), name, in.MessageBody, attrs, delay)
	if err != nil {
		return nil, err
	}
	type result struct {
		MD5OfMessageBody       string
		MD5OfMessageAttributes string `json:",omitempty" xml:",omitempty"`
		MessageId              string
	}
	r := result{MD5OfMessageBody: md5OfBody(m.Body), MD5OfMessageAttributes: md5OfAttributes(attrs), MessageId: m.ID}
	return &output{json: r, xml: r}, nil
}

func (s *Server) receiveMessage(req *request) (*output, error) {
	var in struct {
		QueueUrl                    string
		AttributeNames              []string
		MessageSystemAttributeNames []string
		MessageAttributeNames       []string
		MaxNumberOfMessages         *int
		VisibilityTimeout           *int
		WaitTimeSeconds             *int
	}
	if err := req.decode(&in); err != nil {
		return nil, err
	}
	ctx := req.r.Context()
	name, q, err := s.queue(req, in.QueueUrl)
	if err != nil {
		return nil, err
	}
	opts := lambada.ReceiveOptions{
		Max:        1,
		Visibility: time.Duration(q.Attributes.VisibilityTimeout) * time.Second,
		Wait:       time.Duration(q.Attributes.ReceiveMessageWaitTimeSeconds) * time.Second,
	}
	if n := in.MaxNumberOfMessages; n != nil {
		if *n < 1 || *n > lambada.MaxReceiveMessages {
			return nil, invalidValue("MaxNumberOfMessages", *n, "Must be between 1 and 10, if provided.")
		}
		opts.Max = *n
	}
	if n := in.VisibilityTimeout; n != nil {
		if *n < 0 || *n > lambada.MaxVisibilityTimeout {
			return nil, invalidValue("VisibilityTimeout", *n, "Must be between 0 and 43200, if provided.")
		}
		opts.Visibility = time.Duration(*n) * time.Second
	}
	if n := in.WaitTimeSeconds; n != nil {
		if *n < 0 || *n > lambada.MaxReceiveWaitTimeSeconds {
			return nil, invalidValue("WaitTimeSeconds", *n, "Must be >= 0 and <= 20, if provided.")
		}
		opts.Wait = time.Duration(*n) * time.Second
	}
	msgs, err := s.Messages.Receive(ctx, name, opts)
	if err != nil {
		return nil, err
	}
	system := append(in.AttributeNames, in.MessageSystemAttributeNames...)
	jsonMsgs := make([]map[string]any, 0, len(msgs))
	xmlMsgs := make([]xmlMessage, 0, len(msgs))
	for _, m := range msgs {
		account, _ := s.queueAccount(name)
		sys := s.systemAttributes(m, system, account)
		attrs := selectAttributes(m.Attributes, in.MessageAttributeNames)
		j := map[string]any{
			"MessageId":     m.ID,
			"ReceiptHandle": m.ReceiptHandle,
			"MD5OfBody":     md5OfBody(m.Body),
			"Body":          m.Body,
		}
		x := xmlMessage{MessageId: m.ID, ReceiptHandle: m.ReceiptHandle, MD5OfBody: md5OfBody(m.Body), Body: m.Body, Attribute: xmlAttributes(sys)}
		if len(sys) > 0 {
			j["Attributes"] = sys
		}
		if len(attrs) > 0 {
			values := make(map[string]attributeValue, len(attrs))
			for n, a := range attrs {
				values[n] = attributeValue(a)
				x.MessageAttribute = append(x.MessageAttribute, xmlMessageAttribute{Name: n, Value: xmlAttributeValue{
					DataType: a.DataType, StringValue: a.StringValue, BinaryValue: base64.StdEncoding.EncodeToString(a.BinaryValue)}})
			}
			sort.Slice(x.MessageAttribute, func(i, k int) bool { return x.MessageAttribute[i].Name < x.MessageAttribute[k].Name })
			j["MessageAttributes"] = values
			j["MD5OfMessageAttributes"] = md5OfAttributes(attrs)
			x.MD5OfMessageAttributes = md5OfAttributes(attrs)
		}
		jsonMsgs = append(jsonMsgs, j)
		xmlMsgs = append(xmlMsgs, x)
	}
	o := &output{json: map[string]any{}, xml: struct{ Message []xmlMessage }{xmlMsgs}}
	if len(jsonMsgs) > 0 {
		o.json = map[string]any{"Messages": jsonMsgs}
	}
	return o, nil
}

type xmlMessage struct {
	MessageId              string
	ReceiptHandle          string
	MD5OfBody              string
	Body                   string
	Attribute              []xmlAttribute
	MD5OfMessageAttributes string `xml:",omitempty"`
	MessageAttribute       []xmlMessageAttribute
}

type xmlMessageAttribute struct {
	Name  string
	Value xmlAttributeValue
}

// systemAttributes returns the system attributes of m that names ask for.
// SenderId is the queue's account (the sender's is not kept).
func (s *Server) systemAttributes(m *lambada.ReceivedMessage, names []string, account string) map[string]string {
	out := map[string]string{}
	for _, n := range names {
		if n == "All" {
			for _, a := range systemAttributeNames {
				out[a] = ""
			}
		} else if slices.Contains(systemAttributeNames, n) {
			out[n] = ""
		}
	}
	for n := range out {
		switch n {
		case "ApproximateFirstReceiveTimestamp":
			out[n] = strconv.FormatInt(m.FirstReceived.UnixMilli(), 10)
		case "ApproximateReceiveCount":
			out[n] = strconv.Itoa(m.ReceiveCount)
		case "SenderId":
			out[n] = account
		case "SentTimestamp":
			out[n] = strconv.FormatInt(m.Sent.UnixMilli(), 10)
		}
	}
	return out
}

// selectAttributes returns the attributes that names ask for: "All" or
// ".*" for every one, "prefix.*" for those that begin with prefix., or a
// name.
func selectAttributes(attrs map[string]lambada.MessageAttribute, names []string) map[string]lambada.MessageAttribute {
	out := map[string]lambada.MessageAttribute{}
	for n, a := range attrs {
		for _, want := range names {
			prefix, wildcard := strings.CutSuffix(want, ".*")
			if want == "All" || want == ".*" || want == n || wildcard && strings.HasPrefix(n, prefix+".") {
				out[n] = a
				break
			}
		}
	}
	return out
}

func (s *Server) deleteMessage(req *request) (*output, error) {
	var in struct{ QueueUrl, ReceiptHandle string }
	if err := req.decode(&in); err != nil {
		return nil, err
	}
	name, err := s.queueName(req, in.QueueUrl)
	if err != nil {
		return nil, err
	}
	if in.ReceiptHandle == "" {
		return nil, missing("ReceiptHandle")
	}
	return nil, s.Messages.DeleteMessage(req.r.Context(), name, in.ReceiptHandle)
}

func (s *Server) changeMessageVisibility(req *request) (*output, error) {
	var in struct {
		QueueUrl, ReceiptHandle string
		VisibilityTimeout       *int
	}
	if err := req.decode(&in); err != nil {
		return nil, err
	}
	name, err := s.queueName(req, in.QueueUrl)
	if err != nil {
		return nil, err
	}
	switch {
	case in.ReceiptHandle == "":
		return nil, missing("ReceiptHandle")
	case in.VisibilityTimeout == nil:
		return nil, missing("VisibilityTimeout")
	case *in.VisibilityTimeout < 0 || *in.VisibilityTimeout > lambada.MaxVisibilityTimeout:
		return nil, invalidValue("VisibilityTimeout", *in.VisibilityTimeout, "Must be between 0 and 43200, if provided.")
	}
	return nil, s.Messages.ChangeVisibility(req.r.Context(), name, in.ReceiptHandle, time.Duration(*in.VisibilityTimeout)*time.Second)
}
