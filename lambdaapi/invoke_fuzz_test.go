package lambdaapi

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/lambada-dev/lambada"
)

// fuzzInvoker checks what reaches the invocation service.
type fuzzInvoker struct {
	t      *testing.T
	called bool
}

func (f *fuzzInvoker) Invoke(_ context.Context, ref lambada.FunctionRef, inv *lambada.Invocation) (*lambada.Result, error) {
	f.called = true
	if ref.Name == "" || len(inv.Payload) > lambada.MaxSyncPayload || inv.RequestID == "" {
		f.t.Fatalf("invalid request reached the invoker: %+v, %d-byte payload, id %q", ref, len(inv.Payload), inv.RequestID)
	}
	if _, err := lambada.CheckPayload(inv.Payload); err != nil {
		return nil, err
	}
	return &lambada.Result{Payload: []byte(`{}`), ExecutedVersion: "$LATEST"}, nil
}

func FuzzInvokeDecoding(f *testing.F) {
	f.Add("my-function", "", false, "", "", "", []byte(`{"a":1}`))
	f.Add("arn:aws:lambda:us-east-1:000000000000:function:f:$LATEST", "$LATEST", true, "RequestResponse", "Tail", "e30=", []byte(``))
	f.Add("123456789012:function:f", "1", true, "DryRun", "None", "", []byte(`null`))
	f.Add("f:1", "2", true, "Event", "Tail", "bm9wZQ==", []byte(`'x'`))
	f.Add("bad!", "bad!", true, "Sync", "All", "%%%", []byte("\x87"))
	f.Add("arn:aws:lambda:eu-west-1:000000000000:function:f", "", false, "", "", "", []byte(`{}`))
	f.Fuzz(func(t *testing.T, name, qualifier string, hasQualifier bool, invType, logType, clientContext string, body []byte) {
		inv := &fuzzInvoker{t: t}
		s := &Server{Invoker: inv, Region: "us-east-1", Account: "000000000000"}
		target := "/2015-03-31/functions/" + url.PathEscape(name) + "/invocations"
		if hasQualifier {
			target += "?Qualifier=" + url.QueryEscape(qualifier)
		}
		req, err := http.NewRequest(http.MethodPost, "http://localhost"+target, bytes.NewReader(body))
		if err != nil {
			t.Skip()
		}
		for k, v := range map[string]string{"X-Amz-Invocation-Type": invType, "X-Amz-Log-Type": logType, "X-Amz-Client-Context": clientContext} {
			if v != "" {
				req.Header[k] = []string{v}
			}
		}
		w := httptest.NewRecorder()
		s.Handler().ServeHTTP(w, req)
		switch w.Code {
		case 200, 204:
			if !inv.called {
				t.Fatalf("%d without invoking", w.Code)
			}
		case 400, 403, 404, 413:
			typ := w.Header().Get("X-Amzn-Errortype")
			var body map[string]any
			if typ == "" || json.Unmarshal(w.Body.Bytes(), &body) != nil {
				t.Fatalf("%d with type %q and body %q", w.Code, typ, w.Body.String())
			}
			if body["message"] == nil && body["Message"] == nil {
				t.Fatalf("%d %s without a message: %s", w.Code, typ, w.Body.String())
			}
		default:
			t.Fatalf("status %d: %s", w.Code, w.Body.String())
		}
		if w.Header().Get("X-Amzn-Requestid") == "" {
			t.Fatalf("no x-amzn-RequestId")
		}
	})
}
