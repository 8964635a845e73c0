package logsapi

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
	"github.com/google/uuid"

	"github.com/lambada-dev/lambada"
)

// Live tail sessions: an update a second with at most 500 events, for at
// most three hours, as CloudWatch Logs does.
const (
	tailEvery      = time.Second
	tailMaxEvents  = 500
	tailMaxSession = 3 * time.Hour
	tailMaxGroups  = 10
)

// liveTail is one group of a session: where its next events start.
type liveTail struct {
	name, identifier string
	from             uint64
}

// startLiveTail serves StartLiveTail: an event stream of the new events of
// up to ten groups, until the caller goes or three hours pass. Errors
// before the stream starts are answered as any request's.
func (s *Server) startLiveTail(w http.ResponseWriter, r *http.Request, req *request) error {
	var in struct {
		LogGroupIdentifiers   []string `json:"logGroupIdentifiers"`
		LogStreamNames        []string `json:"logStreamNames"`
		LogStreamNamePrefixes []string `json:"logStreamNamePrefixes"`
		LogEventFilterPattern *string  `json:"logEventFilterPattern"`
	}
	if err := req.decode(&in); err != nil {
		return err
	}
	if n := len(in.LogGroupIdentifiers); n < 1 || n > tailMaxGroups {
		return invalid("logGroupIdentifiers must name 1 to 10 log groups.")
	}
	if len(in.LogStreamNames) > 0 && len(in.LogStreamNamePrefixes) > 0 {
		return invalid("logStreamNames and logStreamNamePrefixes are mutually exclusive parameters.")
	}
	fp := ""
	if in.LogEventFilterPattern != nil {
		fp = *in.LogEventFilterPattern
	}
	pattern, err := ParsePattern(fp)
	if err != nil {
		return invalid(err.Error())
	}
	started := time.Now()
	var groups []*liveTail
	for _, id := range in.LogGroupIdentifiers {
		name, err := s.existing(req, groupRequest{LogGroupIdentifier: &id}, &validation{})
		if err != nil {
			return err
		}
		groups = append(groups, &liveTail{name: name, identifier: s.groupARN(req.account, name)})
	}

	w.Header().Set("Content-Type", "application/vnd.amazon.eventstream")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{}) // a session outlives the server's write timeout
	enc := eventstream.NewEncoder()
	send := func(kind, name string, v any) error {
		payload, err := json.Marshal(v)
		if err != nil {
			return err
		}
		var h eventstream.Headers
		h.Set(":message-type", eventstream.StringValue(kind))
		if kind == "exception" {
			h.Set(":exception-type", eventstream.StringValue(name))
		} else {
			h.Set(":event-type", eventstream.StringValue(name))
		}
		h.Set(":content-type", eventstream.StringValue("application/json"))
		if err := enc.Encode(w, eventstream.Message{Headers: h, Payload: payload}); err != nil {
			return err
		}
		return rc.Flush()
	}
	identifiers := make([]string, len(groups))
	for i, g := range groups {
		identifiers[i] = g.identifier
	}
	if send("event", "initial-response", struct{}{}) != nil ||
		send("event", "sessionStart", map[string]any{"requestId": w.Header().Get("X-Amzn-Requestid"), "sessionId": uuid.NewString(),
			"logGroupIdentifiers": identifiers, "logStreamNames": nonNil(in.LogStreamNames), "logStreamNamePrefixes": nonNil(in.LogStreamNamePrefixes),
			"logEventFilterPattern": fp}) != nil {
		return nil // the caller went
	}
	keep := func(e lambada.LogEvent) bool {
		return (len(in.LogStreamNames) == 0 || slices.Contains(in.LogStreamNames, e.Stream)) &&
			(len(in.LogStreamNamePrefixes) == 0 || slices.ContainsFunc(in.LogStreamNamePrefixes, func(p string) bool { return strings.HasPrefix(e.Stream, p) })) &&
			pattern.Match(e.Message)
	}
	tick := time.NewTicker(tailEvery)
	defer tick.Stop()
	end := time.NewTimer(tailMaxSession)
	defer end.Stop()
	for {
		select {
		case <-r.Context().Done():
			return nil
		case <-end.C:
			_ = send("exception", "SessionTimeoutException", map[string]string{"message": "Session timed out after 3 hours."})
			return nil
		case <-tick.C:
		}
		type result struct {
			LogStreamName      string `json:"logStreamName"`
			LogGroupIdentifier string `json:"logGroupIdentifier"`
			Message            string `json:"message"`
			Timestamp          int64  `json:"timestamp"`
			IngestionTime      int64  `json:"ingestionTime"`
		}
		results := []result{}
		for _, g := range groups {
			if len(results) >= tailMaxEvents {
				break // the rest in the next update
			}
			scan := lambada.LogScan{Account: s.stored(req), Group: g.name, From: g.from}
			if g.from == 0 {
				scan.Since = started
			}
			err := s.Events.Scan(r.Context(), scan, func(e lambada.LogEvent) bool {
				g.from = e.Position + 1
				if keep(e) {
					results = append(results, result{e.Stream, g.identifier, e.Message, e.Time, e.Ingestion})
				}
				return len(results) < tailMaxEvents
			})
			if err != nil {
				s.Logger.Error("live tail", "group", g.name, "err", err)
			}
		}
		if len(results) == 0 {
			continue
		}
		if send("event", "sessionUpdate", map[string]any{"sessionMetadata": map[string]bool{"sampled": false}, "sessionResults": results}) != nil {
			return nil
		}
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
