package lambada

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Limits and defaults of standard SQS queues, as AWS documents them
// (botocore's sqs/2012-11-05 model, CreateQueue's Attributes).
const (
	MaxQueueName = 80 // characters

	DefaultVisibilityTimeout      = 30      // seconds
	MaxVisibilityTimeout          = 43200   // seconds (12 hours)
	DefaultMessageRetentionPeriod = 345600  // seconds (4 days)
	MinMessageRetentionPeriod     = 60      // seconds
	MaxMessageRetentionPeriod     = 1209600 // seconds (14 days)
	MaxDelaySeconds               = 900     // seconds
	MaxReceiveWaitTimeSeconds     = 20      // seconds
	MinMaximumMessageSize         = 1024    // bytes
	MaxMaximumMessageSize         = 1048576 // bytes (1 MiB), also the default
	MaxReceiveMessages            = 10      // messages per ReceiveMessage

	// ReasonReceiptHandle is the Reason of the EINVALID error for a receipt
	// handle that no receive of the queue issued (SQS's
	// ReceiptHandleIsInvalid).
	ReasonReceiptHandle = "ReceiptHandleIsInvalid"
)

// QueueAttributes are the settable attributes of a standard queue, in
// seconds and bytes as SQS counts them.
type QueueAttributes struct {
	VisibilityTimeout             int
	MessageRetentionPeriod        int
	DelaySeconds                  int
	ReceiveMessageWaitTimeSeconds int
	MaximumMessageSize            int
}

// DefaultQueueAttributes returns the attributes of a queue created without
// any.
func DefaultQueueAttributes() QueueAttributes {
	return QueueAttributes{
		VisibilityTimeout:      DefaultVisibilityTimeout,
		MessageRetentionPeriod: DefaultMessageRetentionPeriod,
		MaximumMessageSize:     MaxMaximumMessageSize,
	}
}

// Queue is a standard message queue.
type Queue struct {
	Name       string
	Attributes QueueAttributes
	Created    time.Time
	Modified   time.Time
}

// QueueCounts are a queue's approximate message counts.
type QueueCounts struct {
	Visible    int // ApproximateNumberOfMessages
	NotVisible int // ApproximateNumberOfMessagesNotVisible: in flight
	Delayed    int // ApproximateNumberOfMessagesDelayed
}

// MessageAttribute is one user-defined attribute of a message. DataType is
// String, Number or Binary, optionally followed by "." and a custom label;
// Binary types carry BinaryValue, the others StringValue.
type MessageAttribute struct {
	DataType    string
	StringValue string
	BinaryValue []byte
}

// IsBinary reports whether a carries BinaryValue.
func (a MessageAttribute) IsBinary() bool { return baseDataType(a.DataType) == "Binary" }

func baseDataType(t string) string {
	base, _, _ := strings.Cut(t, ".")
	return base
}

// Message is a message as it was sent.
type Message struct {
	ID         string
	Body       string
	Attributes map[string]MessageAttribute
	Sent       time.Time
}

// ReceivedMessage is one delivery of a message.
type ReceivedMessage struct {
	Message
	ReceiptHandle string    // names this delivery for DeleteMessage and ChangeMessageVisibility
	ReceiveCount  int       // deliveries so far, this one included
	FirstReceived time.Time // the first delivery's time
}

// ReceiveOptions shape one ReceiveMessage.
type ReceiveOptions struct {
	Max        int           // 1 to MaxReceiveMessages
	Visibility time.Duration // how long the messages stay invisible
	Wait       time.Duration // how long to wait for a first message
}

// ValidateQueueName checks a standard queue's name: 1 to 80 alphanumeric
// characters, hyphens or underscores.
func ValidateQueueName(name string) error {
	ok := len(name) >= 1 && len(name) <= MaxQueueName
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			ok = false
		}
	}
	if strings.HasSuffix(name, ".fifo") {
		return Errorf(EINVALID, "FIFO queues are not supported: Lambada offers standard queues only.")
	}
	if !ok {
		return Errorf(EINVALID, "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length")
	}
	return nil
}

// ValidateMessageAttribute checks one message attribute as SendMessage does.
func ValidateMessageAttribute(name string, a MessageAttribute) error {
	if name == "" || len(name) > 256 {
		return Errorf(EINVALID, "Message (user) attribute name must be between 1 and 256 characters.")
	}
	switch baseDataType(a.DataType) {
	case "String":
		if a.StringValue == "" {
			return Errorf(EINVALID, "Message (user) attribute '%s' must contain a non-empty value of type 'String'.", name)
		}
	case "Number":
		if _, err := strconv.ParseFloat(a.StringValue, 64); err != nil {
			return Errorf(EINVALID, "Value %s for parameter MessageAttributeValue is invalid. Reason: Can't parse %s as Number.", a.StringValue, a.StringValue)
		}
	case "Binary":
		if len(a.BinaryValue) == 0 {
			return Errorf(EINVALID, "Message (user) attribute '%s' must contain a non-empty value of type 'Binary'.", name)
		}
	default:
		return Errorf(EINVALID, "The type of message (user) attribute '%s' is invalid. You must use only the following supported type prefixes: Binary, Number, String.", name)
	}
	return nil
}

// MessageSize is what a message counts against MaximumMessageSize: its body
// and each attribute's name, type and value.
func MessageSize(body string, attrs map[string]MessageAttribute) int {
	n := len(body)
	for name, a := range attrs {
		n += len(name) + len(a.DataType) + len(a.StringValue) + len(a.BinaryValue)
	}
	return n
}

// QueueARN returns the ARN of the queue name.
func QueueARN(region, account, name string) string {
	return fmt.Sprintf("arn:aws:sqs:%s:%s:%s", region, account, name)
}

// ParseQueueARN returns the parts of an SQS queue ARN, or EINVALID.
func ParseQueueARN(arn string) (region, account, name string, err error) {
	parts := strings.Split(arn, ":")
	if len(parts) != 6 || parts[0] != "arn" || !strings.HasPrefix(parts[1], "aws") || parts[2] != "sqs" || !ValidAccountID(parts[4]) || ValidateQueueName(parts[5]) != nil {
		return "", "", "", Errorf(EINVALID, "%s is not an SQS queue ARN", arn)
	}
	return parts[3], parts[4], parts[5], nil
}
