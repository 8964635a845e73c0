package logsapi

import (
	"cmp"
	"encoding/base64"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lambada-dev/lambada"
)

// The bounds of one page of events: AWS's 10,000 events and 1 MB, each
// event counted as its message and 26 bytes.
const (
	maxEvents     = 10000
	maxPageBytes  = 1 << 20
	eventOverhead = 26
)

// existing returns the name of the group req names, which must exist.
func (s *Server) existing(r *request, g groupRequest, v *validation) (string, error) {
	name, err := s.group(r, g, v)
	if err != nil {
		return "", err
	}
	if _, err := s.GroupReader.Group(r.ctx, s.stored(r), name); err != nil {
		return "", notFound(err)
	}
	return name, nil
}

type logStreamOut struct {
	LogStreamName       string `json:"logStreamName"`
	CreationTime        int64  `json:"creationTime"`
	FirstEventTimestamp int64  `json:"firstEventTimestamp"`
	LastEventTimestamp  int64  `json:"lastEventTimestamp"`
	LastIngestionTime   int64  `json:"lastIngestionTime"`
	UploadSequenceToken string `json:"uploadSequenceToken"`
	ARN                 string `json:"arn"`
	StoredBytes         int64  `json:"storedBytes"`
}

func (s *Server) describeLogStreams(r *request) (any, error) {
	var in struct {
		groupRequest
		LogStreamNamePrefix *string `json:"logStreamNamePrefix"`
		OrderBy             *string `json:"orderBy"`
		Descending          bool    `json:"descending"`
		NextToken           *string `json:"nextToken"`
		Limit               *int    `json:"limit"`
	}
	if err := r.decode(&in); err != nil {
		return nil, err
	}
	var v validation
	if o := in.OrderBy; o != nil && *o != "LogStreamName" && *o != "LastEventTime" {
		v.add(*o, "orderBy", "Member must satisfy enum value set: [LogStreamName, LastEventTime]")
	}
	v.limit(in.Limit, 50)
	name, err := s.existing(r, in.groupRequest, &v)
	if err != nil {
		return nil, err
	}
	byTime := in.OrderBy != nil && *in.OrderBy == "LastEventTime"
	if byTime && in.LogStreamNamePrefix != nil {
		return nil, invalid("Cannot order by LastEventTime with a logStreamNamePrefix.")
	}
	streams, err := s.Events.Streams(r.ctx, s.stored(r), name)
	if err != nil {
		return nil, err
	}
	if p := in.LogStreamNamePrefix; p != nil {
		streams = slices.DeleteFunc(streams, func(st lambada.LogStream) bool { return !strings.HasPrefix(st.Name, *p) })
	}
	if byTime {
		slices.SortStableFunc(streams, func(a, b lambada.LogStream) int { return cmp.Compare(a.LastEvent, b.LastEvent) })
	}
	if in.Descending {
		slices.Reverse(streams)
	}
	page, next, err := paginate(streams, in.NextToken, in.Limit)
	if err != nil {
		return nil, err
	}
	out := struct {
		LogStreams []logStreamOut `json:"logStreams"`
		NextToken  string         `json:"nextToken,omitempty"`
	}{LogStreams: []logStreamOut{}, NextToken: next}
	for _, st := range page {
		out.LogStreams = append(out.LogStreams, logStreamOut{LogStreamName: st.Name, CreationTime: st.Created,
			FirstEventTimestamp: st.FirstEvent, LastEventTimestamp: st.LastEvent, LastIngestionTime: st.LastIngestion,
			UploadSequenceToken: fmt.Sprintf("%056d", st.LastIngestion),
			ARN:                 s.groupARN(r.account, name) + ":log-stream:" + st.Name})
	}
	return out, nil
}

// eventOut is an event of GetLogEvents.
type eventOut struct {
	Timestamp     int64  `json:"timestamp"`
	Message       string `json:"message"`
	IngestionTime int64  `json:"ingestionTime"`
}

// page collects the events of one answer within its bounds.
type page struct {
	limit, bytes int
	events       []lambada.LogEvent
}

// add adds e and reports whether the page has room for more.
func (p *page) add(e lambada.LogEvent) bool {
	p.events = append(p.events, e)
	p.bytes += len(e.Message) + eventOverhead
	return len(p.events) < p.limit && p.bytes < maxPageBytes
}

// fits reports whether e may be added without passing the byte bound.
func (p *page) fits(e lambada.LogEvent) bool {
	return len(p.events) == 0 || p.bytes+len(e.Message)+eventOverhead <= maxPageBytes
}

// timeRange is the startTime (inclusive) and endTime (exclusive) of a
// request.
type timeRange struct {
	StartTime *int64 `json:"startTime"`
	EndTime   *int64 `json:"endTime"`
}

func (t timeRange) has(ms int64) bool {
	return (t.StartTime == nil || ms >= *t.StartTime) && (t.EndTime == nil || ms < *t.EndTime)
}

// past reports whether an event ingested at ms, and every later one, is
// past the end (events are ingested at most a minute after they happen).
func (t timeRange) past(ms int64) bool { return t.EndTime != nil && ms > *t.EndTime+60_000 }

func (t timeRange) validate(v *validation) {
	for _, m := range []struct {
		ms   *int64
		name string
	}{{t.StartTime, "startTime"}, {t.EndTime, "endTime"}} {
		if m.ms != nil && *m.ms < 0 {
			v.add(strconv.FormatInt(*m.ms, 10), m.name, "Member must have value greater than or equal to 0")
		}
	}
}

// Tokens of GetLogEvents: f/ or b/, a position of 56 digits, /s.
func eventToken(dir byte, pos uint64) string { return fmt.Sprintf("%c/%056d/s", dir, pos) }

func parseEventToken(s string) (dir byte, pos uint64, err error) {
	if len(s) != 60 || s[0] != 'f' && s[0] != 'b' || s[1] != '/' || !strings.HasSuffix(s, "/s") {
		return 0, 0, errToken
	}
	pos, perr := strconv.ParseUint(s[2:58], 10, 64)
	if perr != nil {
		return 0, 0, errToken
	}
	return s[0], pos, nil
}

// timeOf is a time of the wire, in milliseconds since the epoch.
func timeOf(ms int64) time.Time { return time.UnixMilli(ms) }

func (s *Server) getLogEvents(r *request) (any, error) {
	var in struct {
		groupRequest
		LogStreamName *string `json:"logStreamName"`
		timeRange
		NextToken     *string `json:"nextToken"`
		Limit         *int    `json:"limit"`
		StartFromHead bool    `json:"startFromHead"`
	}
	if err := r.decode(&in); err != nil {
		return nil, err
	}
	var v validation
	in.timeRange.validate(&v)
	v.limit(in.Limit, maxEvents)
	if in.LogStreamName == nil {
		v = append(v, "Value null at 'logStreamName' failed to satisfy constraint: Member must not be null")
	}
	name, err := s.existing(r, in.groupRequest, &v)
	if err != nil {
		return nil, err
	}
	forward, from := in.StartFromHead, uint64(0)
	if in.NextToken != nil {
		dir, pos, err := parseEventToken(*in.NextToken)
		if err != nil {
			return nil, err
		}
		forward, from = dir == 'f', pos
	}
	streams, err := s.Events.Streams(r.ctx, s.stored(r), name)
	if err != nil {
		return nil, err
	}
	if !slices.ContainsFunc(streams, func(st lambada.LogStream) bool { return st.Name == *in.LogStreamName }) {
		return nil, errNoStream
	}
	p := &page{limit: maxEvents}
	if in.Limit != nil {
		p.limit = *in.Limit
	}
	scan := lambada.LogScan{Account: s.stored(r), Group: name, Streams: []string{*in.LogStreamName}}
	if forward {
		scan.From = from
		if in.StartTime != nil && from == 0 {
			scan.Since = timeOf(*in.StartTime)
		}
		err = s.Events.Scan(r.ctx, scan, func(e lambada.LogEvent) bool {
			if in.timeRange.past(e.Ingestion) {
				return false
			}
			if !in.timeRange.has(e.Time) {
				return true
			}
			return p.fits(e) && p.add(e)
		})
	} else {
		// The newest events before from: read up to it, keeping the last
		// page's worth.
		if in.StartTime != nil {
			scan.Since = timeOf(*in.StartTime)
		}
		err = s.Events.Scan(r.ctx, scan, func(e lambada.LogEvent) bool {
			if from > 0 && e.Position >= from || in.timeRange.past(e.Ingestion) {
				return false
			}
			if in.timeRange.has(e.Time) {
				p.events = append(p.events, e)
				p.bytes += len(e.Message) + eventOverhead
				for len(p.events) > p.limit || len(p.events) > 1 && p.bytes > maxPageBytes {
					p.bytes -= len(p.events[0].Message) + eventOverhead
					p.events = p.events[1:]
				}
			}
			return true
		})
	}
	if err != nil {
		return nil, err
	}
	out := struct {
		Events            []eventOut `json:"events"`
		NextForwardToken  string     `json:"nextForwardToken"`
		NextBackwardToken string     `json:"nextBackwardToken"`
	}{Events: make([]eventOut, 0, len(p.events))}
	for _, e := range p.events {
		out.Events = append(out.Events, eventOut{Timestamp: e.Time, Message: e.Message, IngestionTime: e.Ingestion})
	}
	if n := len(p.events); n > 0 {
		out.NextForwardToken = eventToken('f', p.events[n-1].Position+1)
		out.NextBackwardToken = eventToken('b', p.events[0].Position)
	} else {
		// Nothing more: the same position both ways, as AWS answers at
		// the end of a stream.
		out.NextForwardToken, out.NextBackwardToken = eventToken('f', from), eventToken('b', from)
	}
	return out, nil
}

// filteredEventOut is an event of FilterLogEvents.
type filteredEventOut struct {
	LogStreamName string `json:"logStreamName"`
	Timestamp     int64  `json:"timestamp"`
	Message       string `json:"message"`
	IngestionTime int64  `json:"ingestionTime"`
	EventID       string `json:"eventId"`
}

func (s *Server) filterLogEvents(r *request) (any, error) {
	var in struct {
		groupRequest
		LogStreamNames      []string `json:"logStreamNames"`
		LogStreamNamePrefix *string  `json:"logStreamNamePrefix"`
		timeRange
		FilterPattern *string `json:"filterPattern"`
		NextToken     *string `json:"nextToken"`
		Limit         *int    `json:"limit"`
	}
	if err := r.decode(&in); err != nil {
		return nil, err
	}
	var v validation
	in.timeRange.validate(&v)
	v.limit(in.Limit, maxEvents)
	if fp := in.FilterPattern; fp != nil && len(*fp) > 1024 {
		v.add(*fp, "filterPattern", "Member must have length less than or equal to 1024")
	}
	name, err := s.existing(r, in.groupRequest, &v)
	if err != nil {
		return nil, err
	}
	if len(in.LogStreamNames) > 0 && in.LogStreamNamePrefix != nil {
		return nil, invalid("logStreamNames and logStreamNamePrefix are mutually exclusive parameters.")
	}
	fp := ""
	if in.FilterPattern != nil {
		fp = *in.FilterPattern
	}
	pattern, err := ParsePattern(fp)
	if err != nil {
		return nil, invalid(err.Error())
	}
	scan := lambada.LogScan{Account: s.stored(r), Group: name, Streams: in.LogStreamNames}
	if in.NextToken != nil {
		b, err := base64.RawURLEncoding.DecodeString(*in.NextToken)
		pos, perr := strconv.ParseUint(strings.TrimPrefix(string(b), "p/"), 10, 64)
		if err != nil || perr != nil || !strings.HasPrefix(string(b), "p/") {
			return nil, errToken
		}
		scan.From = pos
	} else if in.StartTime != nil {
		scan.Since = timeOf(*in.StartTime)
	}
	p := &page{limit: maxEvents}
	if in.Limit != nil {
		p.limit = *in.Limit
	}
	full := false
	var next uint64
	err = s.Events.Scan(r.ctx, scan, func(e lambada.LogEvent) bool {
		if in.timeRange.past(e.Ingestion) {
			return false
		}
		if !in.timeRange.has(e.Time) || in.LogStreamNamePrefix != nil && !strings.HasPrefix(e.Stream, *in.LogStreamNamePrefix) ||
			!pattern.Match(e.Message) {
			return true
		}
		if full || !p.fits(e) {
			next = e.Position // the first of the next page
			return false
		}
		full = !p.add(e)
		return true
	})
	if err != nil {
		return nil, err
	}
	out := struct {
		Events             []filteredEventOut `json:"events"`
		SearchedLogStreams []struct{}         `json:"searchedLogStreams"`
		NextToken          string             `json:"nextToken,omitempty"`
	}{Events: make([]filteredEventOut, 0, len(p.events)), SearchedLogStreams: []struct{}{}}
	for _, e := range p.events {
		out.Events = append(out.Events, filteredEventOut{LogStreamName: e.Stream, Timestamp: e.Time, Message: e.Message,
			IngestionTime: e.Ingestion, EventID: fmt.Sprintf("%056d", e.Position)})
	}
	if next > 0 {
		out.NextToken = base64.RawURLEncoding.EncodeToString([]byte("p/" + strconv.FormatUint(next, 10)))
	}
	return out, nil
}
