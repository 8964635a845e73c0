package lambdaapi

import (
	"encoding/base64"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/lambada-dev/lambada"
)

// invoke handles Invoke: POST /2015-03-31/functions/{name}/invocations.
// Checks run in the order docs/aws-behaviour.md §2.7 gives.
func (s *Server) invoke(w http.ResponseWriter, r *http.Request) error {
	// A synchronous invocation may run for up to 900 s: no server timeout
	// applies once the headers are read.
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})

	var v lambada.Validation
	var qualifier *string
	if q, ok := r.URL.Query()["Qualifier"]; ok && len(q) > 0 {
		qualifier = &q[0]
	}
	ref, mismatch := lambada.ParseFunctionRef(&v, r.PathValue("name"), qualifier)
	typ, logType := lambada.ParseInvocationType(&v, r.Header.Get("X-Amz-Invocation-Type"), r.Header.Get("X-Amz-Log-Type"))
	if err := v.Err(); err != nil {
		return err
	}
	clientContext, err := lambada.DecodeClientContext(r.Header.Get("X-Amz-Client-Context"))
	if err != nil {
		return err
	}
	if err := ref.CheckRegion(s.Region, s.account(r.Context())); err != nil {
		return err
	}
	if mismatch != nil {
		return mismatch
	}
	ref.Account = s.own(r.Context()) // the account the request acts in ("" the node's own)
	var payload []byte
	if typ == lambada.Event {
		payload, err = readEventPayload(r)
	} else {
		payload, err = readPayload(r, lambada.MaxSyncPayload)
	}
	if err != nil {
		return err
	}

	inv := &lambada.Invocation{
		RequestID: w.Header().Get("X-Amzn-Requestid"),
		Type:      typ,
		LogType:   logType,
		Payload:   payload,
	}
	if typ == lambada.RequestResponse {
		inv.ClientContext = clientContext
	}
	res, err := s.Invoker.Invoke(r.Context(), ref, inv)
	if err != nil {
		return err
	}
	switch typ {
	case lambada.DryRun:
		w.WriteHeader(http.StatusNoContent)
		return nil
	case lambada.Event:
		w.WriteHeader(http.StatusAccepted)
		return nil
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Amz-Executed-Version", res.ExecutedVersion)
	if res.FunctionError != "" {
		h.Set("X-Amz-Function-Error", res.FunctionError)
	}
	if logType == lambada.LogTail {
		h.Set("X-Amz-Log-Result", base64.StdEncoding.EncodeToString(res.LogTail))
	}
	h.Set("Content-Length", strconv.Itoa(len(res.Payload)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(res.Payload)
	return nil
}

// readEventPayload reads an Event invocation's body, answering 413 with
// AWS's text for the Event limit, which names the size received.
func readEventPayload(r *http.Request) ([]byte, error) {
	const limit = lambada.MaxAsyncPayload
	tooLarge := func(n int64) error {
		return lambada.Errorf(lambada.ETOOLARGE, "%d byte payload is too large for the Event invocation type (limit %d bytes)", n, limit)
	}
	if r.ContentLength > limit {
		return nil, tooLarge(r.ContentLength)
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, lambada.MaxSyncPayload+1))
	if err != nil {
		return nil, lambada.Errorf(lambada.ECONTENT, "Could not read request body: %v", err)
	}
	if len(b) > limit {
		return nil, tooLarge(int64(len(b)))
	}
	return b, nil
}

// readPayload reads the request body, answering 413 when it exceeds limit.
func readPayload(r *http.Request, limit int64) ([]byte, error) {
	tooLarge := func() error {
		return lambada.Errorf(lambada.ETOOLARGE, "Request must be smaller than %d bytes for the InvokeFunction operation", limit)
	}
	if r.ContentLength > limit {
		return nil, tooLarge()
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, lambada.Errorf(lambada.ECONTENT, "Could not read request body: %v", err)
	}
	if int64(len(b)) > limit {
		return nil, tooLarge()
	}
	return b, nil
}
