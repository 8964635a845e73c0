package sqsapi

import (
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"sort"

	"github.com/lambada-dev/lambada"
)

// md5OfBody is MD5OfMessageBody: the hex MD5 of the body's UTF-8 bytes.
func md5OfBody(body string) string {
	sum := md5.Sum([]byte(body))
	return hex.EncodeToString(sum[:])
}

// Transport types of the message-attribute digest.
const (
	transportString = 1
	transportBinary = 2
)

// md5OfAttributes is MD5OfMessageAttributes as SQS computes it, "" for no
// attributes: the hex MD5 of, for each attribute sorted by name, the name,
// the data type, a transport byte (1 for String and Number, 2 for Binary)
// and the value, each string or value preceded by its length as four
// big-endian bytes.
func md5OfAttributes(attrs map[string]lambada.MessageAttribute) string {
	if len(attrs) == 0 {
		return ""
	}
	names := make([]string, 0, len(attrs))
	for n := range attrs {
		names = append(names, n)
	}
	sort.Strings(names)
	h := md5.New()
	field := func(b []byte) {
		_ = binary.Write(h, binary.BigEndian, uint32(len(b)))
		h.Write(b)
	}
	for _, n := range names {
		a := attrs[n]
		field([]byte(n))
		field([]byte(a.DataType))
		if a.IsBinary() {
			h.Write([]byte{transportBinary})
			field(a.BinaryValue)
		} else {
			h.Write([]byte{transportString})
			field([]byte(a.StringValue))
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}
