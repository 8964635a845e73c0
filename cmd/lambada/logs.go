package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
)

const logsUsage = `Usage: lambada logs [options] FUNCTION

Prints a function's log lines (its output and the platform's START, END
and REPORT lines) from its log group, through the CloudWatch Logs API of
the Lambda endpoint: each line with its time and its log stream (one per
execution environment). On a terminal START, END and REPORT are dimmed and
errors are red; piped, the lines are plain.

Options:
  --follow, -f             keep printing new lines until interrupted
  --since DURATION         from this long ago (default 10m)
  --filter PATTERN         only the lines that match a CloudWatch Logs filter
                           pattern: terms, "a phrase", ?either ?or, -not,
                           { $.level = "ERROR" }
  --qualifier VERSION|ALIAS
                           only the lines of environments of this version
                           (an alias: of the version it routes to)
  --endpoint-url URL       the endpoint (as for lambada invoke)
  --region REGION          region to sign for
`

// followLag is how far back --follow asks again: lines written then may
// be stored later than lines written after them (each environment's lines
// are stored every 100 ms).
const followLag = 5 * time.Second

// logsCommand is `lambada logs`.
type logsCommand struct {
	Stdout, Stderr io.Writer
	// Color colours the lines; Run sets it when Stdout is a terminal.
	Color *bool
	// Poll is how often --follow asks for new lines (default 500 ms).
	Poll time.Duration

	defaultEndpoint string // replaces defaultLocalEndpoint when set (tests)
}

// logsArgs are the parsed command line.
type logsArgs struct {
	function    string
	follow      bool
	since       time.Duration
	filter      string
	qualifier   string
	endpointURL string
	region      string
}

func (c *logsCommand) parse(args []string) (*logsArgs, error) {
	a := &logsArgs{}
	fs := flag.NewFlagSet("logs", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	fs.BoolVar(&a.follow, "follow", false, "")
	fs.BoolVar(&a.follow, "f", false, "")
	fs.DurationVar(&a.since, "since", 10*time.Minute, "")
	fs.StringVar(&a.filter, "filter", "", "")
	fs.StringVar(&a.qualifier, "qualifier", "", "")
	fs.StringVar(&a.endpointURL, "endpoint-url", "", "")
	fs.StringVar(&a.region, "region", "", "")
	flags, positional := splitArgs(fs, args)
	if err := fs.Parse(flags); err != nil {
		fmt.Fprint(c.Stderr, logsUsage)
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, fmt.Errorf("logs: %w", err)
	}
	if len(positional) != 1 {
		fmt.Fprint(c.Stderr, logsUsage)
		return nil, errors.New("logs: want one FUNCTION")
	}
	a.function = positional[0]
	return a, nil
}

// Run prints the lines, and with --follow goes on until ctx ends.
func (c *logsCommand) Run(ctx context.Context, args []string) error {
	a, err := c.parse(args)
	if err != nil {
		return err
	}
	cfg, endpoint, err := sdkConfig(ctx, a.region, a.endpointURL, c.defaultEndpoint)
	if err != nil {
		return err
	}
	fn := lambda.NewFromConfig(cfg, func(o *lambda.Options) { o.BaseEndpoint = aws.String(endpoint) })
	logs := cloudwatchlogs.NewFromConfig(cfg, func(o *cloudwatchlogs.Options) { o.BaseEndpoint = aws.String(endpoint) })
	in := &lambda.GetFunctionConfigurationInput{FunctionName: aws.String(a.function)}
	if a.qualifier != "" {
		in.Qualifier = aws.String(a.qualifier)
	}
	conf, err := fn.GetFunctionConfiguration(ctx, in)
	if err != nil {
		return cliError(err)
	}
	group := "/aws/lambda/" + aws.ToString(conf.FunctionName)
	if conf.LoggingConfig != nil && conf.LoggingConfig.LogGroup != nil {
		group = *conf.LoggingConfig.LogGroup
	}
	stream := "" // the streams of one version: …/[<version>]<id>
	if a.qualifier != "" {
		stream = "[" + aws.ToString(conf.Version) + "]"
	}
	color := c.Color != nil && *c.Color
	if c.Color == nil {
		color = isTerminal(c.Stdout)
	}
	p := &logPrinter{out: c.Stdout, color: color, seen: map[string]int64{}, group: group, stream: stream, filter: a.filter}
	var every time.Duration // 0: once
	if a.follow {
		every = cmp.Or(c.Poll, 500*time.Millisecond)
	}
	if err := p.run(ctx, logs, time.Now().Add(-a.since).UnixMilli(), every); err != nil {
		return cliError(err)
	}
	return nil
}

// run prints the lines from from (ms) on, then, every so often (never
// when every is 0), the new ones, until ctx ends.
func (p *logPrinter) run(ctx context.Context, api cloudwatchlogs.FilterLogEventsAPIClient, from int64, every time.Duration) error {
	var tick <-chan time.Time
	if every > 0 {
		t := time.NewTicker(every)
		defer t.Stop()
		tick = t.C
	}
	for {
		newest, err := p.print(ctx, api, from)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if every == 0 {
			return nil
		}
		// A line is stored a little after it is written: the next ask
		// goes back a while, and what was printed is not printed again.
		from = max(from, newest-followLag.Milliseconds())
		p.forget(from)
		select {
		case <-ctx.Done():
			return nil
		case <-tick:
		}
	}
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// logPrinter prints the events of a group (of the streams whose names
// contain stream, that match filter) once each.
type logPrinter struct {
	out                   io.Writer
	color                 bool
	group, stream, filter string
	seen                  map[string]int64 // event ids printed, with their times
}

// print prints the events from from (ms) on that it has not printed, and
// returns the newest time seen.
func (p *logPrinter) print(ctx context.Context, api cloudwatchlogs.FilterLogEventsAPIClient, from int64) (int64, error) {
	in := &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String(p.group), StartTime: aws.Int64(from)}
	if p.filter != "" {
		in.FilterPattern = aws.String(p.filter)
	}
	newest := from
	pages := cloudwatchlogs.NewFilterLogEventsPaginator(api, in)
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			var nf interface{ ErrorCode() string }
			if errors.As(err, &nf) && nf.ErrorCode() == "ResourceNotFoundException" {
				return newest, nil // no line yet: the group is made by the first
			}
			return newest, err
		}
		for _, e := range page.Events {
			id, ts := aws.ToString(e.EventId), aws.ToInt64(e.Timestamp)
			newest = max(newest, ts)
			if _, ok := p.seen[id]; ok || !strings.Contains(aws.ToString(e.LogStreamName), p.stream) {
				continue
			}
			p.seen[id] = ts
			p.line(ts, aws.ToString(e.LogStreamName), aws.ToString(e.Message))
		}
	}
	return newest, nil
}

// forget forgets the events printed before from (ms).
func (p *logPrinter) forget(from int64) {
	for id, ts := range p.seen {
		if ts < from {
			delete(p.seen, id)
		}
	}
}

// ANSI colours of the lines.
const (
	dim   = "\x1b[2m"
	red   = "\x1b[31m"
	reset = "\x1b[0m"
)

var (
	platformLine = regexp.MustCompile(`^(START|END|REPORT|INIT_START|INIT_REPORT) |"type":"platform\.`)
	errorLine    = regexp.MustCompile(`ERROR|Error|Exception|Traceback|Task timed out|Status: (error|timeout)|"status":"(error|failure|timeout)"|"level":"(ERROR|FATAL)"`)
)

// line prints one event: its time, its stream's id, its message.
func (p *logPrinter) line(ts int64, stream, msg string) {
	msg = strings.TrimRight(msg, "\n")
	if i := strings.LastIndexByte(stream, '/'); i >= 0 {
		stream = stream[i+1:]
	}
	prefix := time.UnixMilli(ts).UTC().Format("2006-01-02T15:04:05.000Z") + " " + stream + " "
	switch {
	case !p.color:
		fmt.Fprintln(p.out, prefix+msg)
	case errorLine.MatchString(msg):
		fmt.Fprintln(p.out, prefix+red+msg+reset)
	case platformLine.MatchString(msg):
		fmt.Fprintln(p.out, prefix+dim+msg+reset)
	default:
		fmt.Fprintln(p.out, prefix+msg)
	}
}
