package lambdaapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/lambada-dev/lambada"
	"github.com/lambada-dev/lambada/inmem"
)

// fuzzCode is a CodeStorer that keeps archives in memory.
type fuzzCode struct {
	mu  sync.Mutex
	zip map[string][]byte
}

func (c *fuzzCode) StoreCode(_ context.Context, key string, zip []byte) error {
	if sum := sha256.Sum256(zip); hex.EncodeToString(sum[:]) != key {
		return lambada.Errorf(lambada.EINVALID, "key %s is not the archive's SHA-256", key)
	}
	if !bytes.HasPrefix(zip, []byte("PK\x03\x04")) {
		return lambada.Errorf(lambada.EINVALID, "Could not unzip uploaded file. Please check your file, then try to upload again.")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.zip[key] = zip
	return nil
}

func (c *fuzzCode) Code(_ context.Context, key string) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if z, ok := c.zip[key]; ok {
		return z, nil
	}
	return nil, lambada.Errorf(lambada.ENOTFOUND, "no code %s", key)
}

// routePatterns are the patterns of every route the server registers.
func routePatterns() []string {
	var patterns []string
	(&Server{}).routes(func(pattern string, _ func(http.ResponseWriter, *http.Request) error) {
		patterns = append(patterns, pattern)
	})
	return patterns
}

// FuzzRequests sends arbitrary requests to every route of a server that
// holds one function: whatever the path's names, the query and the body,
// the answer is a success or one of the API's errors (its status, an
// x-amzn-ErrorType and a JSON body with a message), never a panic or a
// server error.
func FuzzRequests(f *testing.F) {
	patterns := routePatterns()
	f.Add(uint8(0), "f", "live", "", []byte(`{"FunctionName":"g","Role":"arn:aws:iam::000000000000:role/r","Runtime":"provided.al2023","Handler":"h","Code":{"ZipFile":"UEsDBA=="}}`))
	f.Add(uint8(3), "f", "1", "Qualifier=1", []byte(``))
	f.Add(uint8(7), "arn:aws:lambda:us-east-1:000000000000:function:f", "$LATEST", "Marker=x&MaxItems=0", []byte(`{"Timeout":0}`))
	f.Add(uint8(12), "f:live", "%", "Qualifier=%24LATEST", []byte(`{"Name":"live","FunctionVersion":"$LATEST","RoutingConfig":{"AdditionalVersionWeights":{"1":1.5}}}`))
	f.Add(uint8(20), "f", "sid", "RevisionId=x", []byte(`{"StatementId":"s","Action":"lambda:InvokeFunction","Principal":"*"}`))
	f.Add(uint8(25), "f", "2", "find=LayerVersion&Arn=arn:aws:lambda:us-east-1:000000000000:layer:l:1", []byte(`{"Content":{"ZipFile":"UEsDBA=="},"CompatibleRuntimes":["python3.12"]}`))
	f.Add(uint8(30), "f", "x", "", []byte(`{"ReservedConcurrentExecutions":-1,"ProvisionedConcurrentExecutions":1e99}`))
	f.Add(uint8(40), "f", "x", "tagKeys=a&tagKeys=b", []byte(`{"Tags":{"":"x"},"MaximumRetryAttempts":3,"DestinationConfig":{"OnFailure":{"Destination":"arn:aws:sqs:us-east-1:000000000000:q"}}}`))
	f.Add(uint8(5), "\x00", "..", "%zz", []byte("\xff\xfe"))
	f.Add(uint8(255), "/2015-03-31/functions/../functions//f", "", "", []byte(``)) // route 255: the name is the whole path
	store := &inmem.Store{}
	s := &Server{Functions: store, Layers: store, Code: &fuzzCode{zip: map[string][]byte{}}, Invoker: &fuzzInvoker{t: &testing.T{}},
		Region: "us-east-1", Account: "000000000000"}
	h := s.Handler()
	create := httptest.NewRequest(http.MethodPost, "/2015-03-31/functions", strings.NewReader(
		`{"FunctionName":"f","Role":"arn:aws:iam::000000000000:role/r","Runtime":"provided.al2023","Handler":"h","Code":{"ZipFile":"UEsDBAo="}}`))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, create)
	if w.Code != http.StatusCreated {
		f.Fatalf("create: %d %s", w.Code, w.Body)
	}
	f.Fuzz(func(t *testing.T, route uint8, name, second, query string, body []byte) {
		s.Invoker = &fuzzInvoker{t: t}
		method, path, _ := strings.Cut(patterns[int(route)%len(patterns)], " ")
		if route == 255 {
			path = name
		}
		for _, wildcard := range []string{"{name}", "{arn}"} {
			path = strings.ReplaceAll(path, wildcard, url.PathEscape(name))
		}
		for _, wildcard := range []string{"{alias}", "{sid}", "{version}", "{key}", "{expires}"} {
			path = strings.ReplaceAll(path, wildcard, url.PathEscape(second))
		}
		path = strings.TrimSuffix(path, "{$}")
		req, err := http.NewRequest(method, "http://localhost"+path+"?"+query, bytes.NewReader(body))
		if err != nil {
			t.Skip()
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		switch {
		case w.Code < 300:
		case w.Code >= 500:
			t.Fatalf("%s %s?%s: %d %s", method, path, query, w.Code, w.Body)
		default:
			var answer map[string]any
			if w.Header().Get("X-Amzn-Errortype") == "" || json.Unmarshal(w.Body.Bytes(), &answer) != nil ||
				answer["message"] == nil && answer["Message"] == nil {
				t.Fatalf("%s %s?%s: %d, type %q, body %q", method, path, query, w.Code, w.Header().Get("X-Amzn-Errortype"), w.Body)
			}
		}
	})
}
