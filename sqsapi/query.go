package sqsapi

import (
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// xmlns is the namespace of the query protocol's answers.
const xmlns = "http://queue.amazonaws.com/doc/2012-11-05/"

// integerParams are the query parameters that JSON carries as numbers.
var integerParams = map[string]bool{
	"MaxNumberOfMessages": true, "VisibilityTimeout": true, "WaitTimeSeconds": true,
	"DelaySeconds": true, "MaxResults": true,
}

// listParams maps the query protocol's flattened lists to JSON's members.
var listParams = map[string]string{
	"AttributeName":              "AttributeNames",
	"MessageAttributeName":       "MessageAttributeNames",
	"MessageSystemAttributeName": "MessageSystemAttributeNames",
}

// queryToJSON turns a query request's parameters into the JSON 1.0 input
// of the same operation:
//
//	Attribute.N.Name=k&Attribute.N.Value=v           → "Attributes": {"k": "v"}
//	MessageAttribute.N.Name=k&MessageAttribute.N.Value.DataType=String&… → "MessageAttributes": {"k": {…}}
//	AttributeName.N=v (and the other lists)           → "AttributeNames": ["v", …]
//
// Other parameters are members of the same name, numbers for integerParams
// that parse as one.
func queryToJSON(form url.Values) []byte {
	in := map[string]any{}
	attrs := map[string]map[string]string{}    // N → Name, Value
	msgAttrs := map[string]map[string]string{} // N → Name, DataType, StringValue, BinaryValue
	lists := map[string]map[int]string{}
	for k, vs := range form {
		v := vs[0]
		parts := strings.Split(k, ".")
		switch {
		case k == "Action" || k == "Version":
		case len(parts) == 3 && parts[0] == "Attribute":
			entry(attrs, parts[1])[parts[2]] = v
		case len(parts) == 3 && parts[0] == "MessageAttribute" && parts[2] == "Name":
			entry(msgAttrs, parts[1])["Name"] = v
		case len(parts) == 4 && parts[0] == "MessageAttribute" && parts[2] == "Value":
			entry(msgAttrs, parts[1])[parts[3]] = v
		case len(parts) == 2 && listParams[parts[0]] != "":
			n, err := strconv.Atoi(parts[1])
			if err != nil {
				continue
			}
			if lists[parts[0]] == nil {
				lists[parts[0]] = map[int]string{}
			}
			lists[parts[0]][n] = v
		case integerParams[k]:
			if n, err := strconv.Atoi(v); err == nil {
				in[k] = n
			} else {
				in[k] = v // the JSON decoder reports it
			}
		case len(parts) == 1:
			in[k] = v
		}
	}
	if len(attrs) > 0 {
		m := map[string]string{}
		for _, a := range attrs {
			m[a["Name"]] = a["Value"]
		}
		in["Attributes"] = m
	}
	if len(msgAttrs) > 0 {
		m := map[string]map[string]string{}
		for _, a := range msgAttrs {
			name := a["Name"]
			delete(a, "Name")
			m[name] = a
		}
		in["MessageAttributes"] = m
	}
	for param, byIndex := range lists {
		indexes := make([]int, 0, len(byIndex))
		for n := range byIndex {
			indexes = append(indexes, n)
		}
		sort.Ints(indexes)
		values := make([]string, len(indexes))
		for i, n := range indexes {
			values[i] = byIndex[n]
		}
		in[listParams[param]] = values
	}
	b, _ := json.Marshal(in)
	return b
}

func entry(m map[string]map[string]string, n string) map[string]string {
	if m[n] == nil {
		m[n] = map[string]string{}
	}
	return m[n]
}

// writeXML writes a query protocol answer:
// <ActionResponse><ActionResult>…</ActionResult><ResponseMetadata>….
func writeXML(w http.ResponseWriter, action, requestID string, out *output) {
	w.Header().Set("Content-Type", "text/xml")
	start := xml.StartElement{Name: xml.Name{Local: action + "Response"}, Attr: []xml.Attr{{Name: xml.Name{Local: "xmlns"}, Value: xmlns}}}
	enc := xml.NewEncoder(w)
	_, _ = io.WriteString(w, xml.Header)
	_ = enc.EncodeToken(start)
	if out != nil && out.xml != nil {
		_ = enc.EncodeElement(out.xml, xml.StartElement{Name: xml.Name{Local: action + "Result"}})
	}
	_ = enc.EncodeElement(struct {
		RequestID string `xml:"RequestId"`
	}{requestID}, xml.StartElement{Name: xml.Name{Local: "ResponseMetadata"}})
	_ = enc.EncodeToken(start.End())
	_ = enc.Flush()
}

func writeXMLDoc(w io.Writer, v any) error {
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	return xml.NewEncoder(w).Encode(v)
}

// xmlAttribute is one <Attribute><Name/><Value/></Attribute>.
type xmlAttribute struct {
	Name  string
	Value string
}

// xmlAttributes turns a map into sorted <Attribute> elements.
func xmlAttributes(m map[string]string) []xmlAttribute {
	out := make([]xmlAttribute, 0, len(m))
	for k, v := range m {
		out = append(out, xmlAttribute{k, v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
