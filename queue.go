package lambada

// MessageAttribute is an SQS message attribute. (Placeholder until the SQS
// vocabulary lands.)
type MessageAttribute struct {
	DataType    string
	StringValue string
	BinaryValue []byte
}
