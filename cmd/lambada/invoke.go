package main

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/ec2rolecreds"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"
)

const (
	// defaultLocalEndpoint is where `lambada invoke` sends requests when no
	// endpoint is configured anywhere: a Lambada server on this machine.
	defaultLocalEndpoint = "http://127.0.0.1:9001"
	// defaultRegion is used when neither --region nor the SDK's sources
	// (AWS_REGION, AWS_DEFAULT_REGION, the shared config) name one.
	defaultRegion = "us-east-1"
	// localAccessKeyID and localSecretAccessKey sign requests to the local
	// default endpoint when no credentials are configured.
	localAccessKeyID     = "lambada"
	localSecretAccessKey = "lambada"
)

const invokeUsage = `Usage: lambada invoke --function-name NAME [options] OUTFILE

Invokes a Lambda function through the Lambda API, as 'aws lambda invoke'
does: writes the function's response payload to OUTFILE and prints the
response metadata (StatusCode, FunctionError, LogResult, ExecutedVersion) as
JSON. Options may come before or after OUTFILE.

Options:
  --function-name NAME        function name, ARN or partial ARN, optionally
                              with a :VERSION or :ALIAS suffix (required)
  --invocation-type TYPE      RequestResponse (default), Event or DryRun
  --log-type TYPE             None (default) or Tail: return the last 4 KB of
                              the function's log, base64-encoded, as LogResult
  --client-context BASE64     client context, already base64-encoded (a JSON
                              object); sent as is in X-Amz-Client-Context
  --payload VALUE             the event: JSON text, file://PATH (the file read
                              as UTF-8 text) or fileb://PATH (the file's bytes)
  --qualifier VERSION|ALIAS   version or alias to invoke
  --endpoint-url URL          the Lambda API endpoint (see Endpoint)
  --region REGION             region to sign for (default: AWS_REGION,
                              AWS_DEFAULT_REGION, the shared config, else
                              us-east-1)

Endpoint: --endpoint-url, else AWS_ENDPOINT_URL_LAMBDA, else AWS_ENDPOINT_URL,
else endpoint_url in the shared config file (the profile's services section
for lambda, then the profile itself); AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true
ignores all but --endpoint-url. With none of them, and unlike the AWS CLI,
lambada invoke targets a local Lambada server at http://127.0.0.1:9001,
signing with dummy credentials when none are configured (never asking the EC2
instance metadata service). To invoke a function on AWS itself, pass
--endpoint-url https://lambda.REGION.amazonaws.com --region REGION.

Retries: up to 3 attempts on throttling, 5xx and connection errors;
AWS_MAX_ATTEMPTS changes the number.
`

// invokeCommand is `lambada invoke`: the AWS CLI's `aws lambda invoke`
// (version 1) rebuilt on the AWS SDK for Go v2, talking to a local Lambada
// server by default. Its output, outfile and error texts match the CLI's.
type invokeCommand struct {
	Stdout, Stderr io.Writer

	// defaultEndpoint replaces defaultLocalEndpoint when set (tests).
	defaultEndpoint string
}

// invokeArgs are the parsed command line.
type invokeArgs struct {
	functionName   string
	invocationType string
	logType        string
	clientContext  string
	payload        *string // nil: no --payload
	qualifier      *string // nil: no --qualifier
	endpointURL    string
	region         string
	outfile        string
}

// Run invokes the function named by args. It writes the payload to the
// outfile only when the call succeeds, then prints the CLI's JSON to Stdout.
// Usage problems print the usage text to Stderr and return an error; -h
// returns flag.ErrHelp. Other errors carry the AWS CLI's message, e.g.
// "An error occurred (ResourceNotFoundException) when calling the Invoke
// operation: Function not found: …", for the caller to print.
func (c *invokeCommand) Run(ctx context.Context, args []string) error {
	a, err := c.parse(args)
	if err != nil {
		return err
	}

	var payload []byte
	if a.payload != nil {
		if payload, err = loadPayload(*a.payload); err != nil {
			return fmt.Errorf("Error parsing parameter '--payload': %w", err)
		}
	}
	// Fail before invoking when the payload could not be saved.
	if fi, err := os.Stat(filepath.Dir(a.outfile)); err != nil {
		return fmt.Errorf("Unable to write to file: %s: %w", a.outfile, err)
	} else if !fi.IsDir() {
		return fmt.Errorf("Unable to write to file: %s: %s is not a directory", a.outfile, filepath.Dir(a.outfile))
	}

	client, err := c.client(ctx, a)
	if err != nil {
		return err
	}
	in := &lambda.InvokeInput{
		FunctionName:   aws.String(a.functionName),
		InvocationType: types.InvocationType(a.invocationType),
		LogType:        types.LogType(a.logType),
		Payload:        payload,
		Qualifier:      a.qualifier,
	}
	if a.clientContext != "" {
		in.ClientContext = aws.String(a.clientContext)
	}
	out, err := client.Invoke(ctx, in)
	if err != nil {
		return cliError(err)
	}

	if err := os.WriteFile(a.outfile, out.Payload, 0o666); err != nil {
		return err
	}
	_, err = c.Stdout.Write(formatInvokeOutput(out))
	return err
}

// parse reads args the way the AWS CLI's argparse does: options and the one
// positional OUTFILE in any order, "--" ending the options.
func (c *invokeCommand) parse(args []string) (*invokeArgs, error) {
	var a invokeArgs
	fs := flag.NewFlagSet("invoke", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	fs.StringVar(&a.functionName, "function-name", "", "")
	fs.StringVar(&a.invocationType, "invocation-type", "", "")
	fs.StringVar(&a.logType, "log-type", "", "")
	fs.StringVar(&a.clientContext, "client-context", "", "")
	payload := fs.String("payload", "", "")
	qualifier := fs.String("qualifier", "", "")
	fs.StringVar(&a.endpointURL, "endpoint-url", "", "")
	fs.StringVar(&a.region, "region", "", "")

	usage := func(format string, v ...any) error {
		fmt.Fprint(c.Stderr, invokeUsage)
		return fmt.Errorf("invoke: "+format, v...)
	}

	flags, positional := splitArgs(fs, args)
	if err := fs.Parse(flags); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(c.Stderr, invokeUsage)
			return nil, flag.ErrHelp
		}
		return nil, usage("%v", err)
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	switch {
	case !set["function-name"]:
		return nil, usage("the following arguments are required: --function-name")
	case len(positional) == 0:
		return nil, usage("the following arguments are required: outfile")
	case len(positional) > 1:
		return nil, usage("unexpected arguments: %s", strings.Join(positional[1:], " "))
	}
	a.outfile = positional[0]
	if set["payload"] {
		a.payload = payload
	}
	if set["qualifier"] {
		a.qualifier = qualifier
	}

	// The CLI's (botocore's) client-side checks, with its texts.
	if a.functionName == "" {
		return nil, errors.New("Parameter validation failed:\nInvalid length for parameter FunctionName, value: 0, valid min length: 1")
	}
	if a.qualifier != nil && *a.qualifier == "" {
		return nil, errors.New("Parameter validation failed:\nInvalid length for parameter Qualifier, value: 0, valid min length: 1")
	}
	if a.endpointURL != "" {
		if u, err := url.Parse(a.endpointURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("Bad value for --endpoint-url %q: scheme is missing.  Must be of the form http://<hostname>/ or https://<hostname>/", a.endpointURL)
		}
	}
	return &a, nil
}

// splitArgs separates options (with their values) from positional
// arguments, so that options may follow a positional one. Everything after
// "--" is positional. Unknown options are kept for fs.Parse to reject.
func splitArgs(fs *flag.FlagSet, args []string) (flags, positional []string) {
	for i := 0; i < len(args); i++ {
		arg := args[i]
		switch {
		case arg == "--":
			return flags, append(positional, args[i+1:]...)
		case len(arg) < 2 || arg[0] != '-':
			positional = append(positional, arg)
			continue
		}
		flags = append(flags, arg)
		name := strings.TrimLeft(arg, "-")
		if strings.Contains(name, "=") {
			continue
		}
		if f := fs.Lookup(name); f != nil {
			if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
				continue
			}
		}
		if i+1 < len(args) {
			i++
			flags = append(flags, args[i])
		}
	}
	return flags, positional
}

// client builds the Lambda client of a.
func (c *invokeCommand) client(ctx context.Context, a *invokeArgs) (*lambda.Client, error) {
	cfg, endpoint, err := sdkConfig(ctx, a.region, a.endpointURL, c.defaultEndpoint)
	if err != nil {
		return nil, err
	}
	return lambda.NewFromConfig(cfg, func(o *lambda.Options) { o.BaseEndpoint = aws.String(endpoint) }), nil
}

// sdkConfig is the configuration of the clients of a command (invoke,
// logs): the SDK's (credentials, region, AWS_MAX_ATTEMPTS) with region over
// it, and the endpoint they talk to: endpointURL, else the one configured
// for the Lambda API, else fallback (defaultLocalEndpoint when ""), signing
// with dummy credentials when none are configured.
func sdkConfig(ctx context.Context, region, endpointURL, fallback string) (aws.Config, string, error) {
	var opts []func(*config.LoadOptions) error
	if region != "" {
		opts = append(opts, config.WithRegion(region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return cfg, "", err
	}
	if cfg.Region == "" {
		cfg.Region = defaultRegion
	}
	if endpointURL != "" {
		return cfg, endpointURL, nil
	}
	// The SDK resolves AWS_ENDPOINT_URL_LAMBDA, AWS_ENDPOINT_URL and the
	// shared config (honouring AWS_IGNORE_CONFIGURED_ENDPOINT_URLS) into
	// the client's BaseEndpoint; nil means none is configured.
	if configured := lambda.NewFromConfig(cfg).Options().BaseEndpoint; configured != nil {
		return cfg, *configured, nil
	}
	// With nothing configured the SDK's chain ends at the EC2 instance
	// metadata service; a local server needs no real credentials.
	if cfg.Credentials == nil || aws.IsCredentialsProvider(cfg.Credentials, (*ec2rolecreds.Provider)(nil)) {
		cfg.Credentials = aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(localAccessKeyID, localSecretAccessKey, ""))
	}
	return cfg, cmp.Or(fallback, defaultLocalEndpoint), nil
}

// loadPayload reads --payload as the AWS CLI v1 does: file://PATH is read
// as UTF-8 text with universal newlines, fileb://PATH as bytes, anything else
// is sent as given. PATH may start with ~ and use $VAR or ${VAR}.
func loadPayload(v string) ([]byte, error) {
	var path string
	var text bool
	switch {
	case strings.HasPrefix(v, "file://"):
		path, text = v[len("file://"):], true
	case strings.HasPrefix(v, "fileb://"):
		path = v[len("fileb://"):]
	default:
		return []byte(v), nil
	}
	path = expandVars(expandUser(path))
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("Unable to load paramfile %s: %w", v, err)
	}
	if !text {
		return b, nil
	}
	if !utf8.Valid(b) {
		return nil, fmt.Errorf("Unable to load paramfile (%s), text contents could not be decoded.  If this is a binary file, please use the fileb:// prefix instead of the file:// prefix.", path)
	}
	b = bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n"))
	return bytes.ReplaceAll(b, []byte("\r"), []byte("\n")), nil
}

// expandUser is Python's os.path.expanduser: a leading ~ or ~user becomes
// that home directory.
func expandUser(path string) string {
	if !strings.HasPrefix(path, "~") {
		return path
	}
	i := strings.IndexByte(path, '/')
	if i < 0 {
		i = len(path)
	}
	var home string
	if i == 1 {
		home = os.Getenv("HOME")
		if home == "" {
			u, err := user.Current()
			if err != nil {
				return path
			}
			home = u.HomeDir
		}
	} else {
		u, err := user.Lookup(path[1:i])
		if err != nil {
			return path
		}
		home = u.HomeDir
	}
	if home = strings.TrimRight(home, "/") + path[i:]; home == "" {
		return "/"
	}
	return home
}

var envVarRE = regexp.MustCompile(`\$(\w+|\{[^}]*\})`)

// expandVars is Python's os.path.expandvars: $VAR and ${VAR} become the
// variable's value; unset variables are left as written.
func expandVars(path string) string {
	return envVarRE.ReplaceAllStringFunc(path, func(m string) string {
		name := strings.TrimSuffix(strings.TrimPrefix(m[1:], "{"), "}")
		if v, ok := os.LookupEnv(name); ok {
			return v
		}
		return m
	})
}

// cliError turns an SDK error into the AWS CLI's message for it, keeping the
// SDK error for errors.As.
func cliError(err error) error {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		var retries string
		var maxErr *retry.MaxAttemptsError
		if errors.As(err, &maxErr) {
			retries = fmt.Sprintf(" (reached max retries: %d)", maxErr.Attempt-1)
		}
		// Where the response named no code or no message the SDK says
		// "UnknownError"; botocore uses the HTTP status and "".
		code, msg := apiErr.ErrorCode(), apiErr.ErrorMessage()
		var generic *smithy.GenericAPIError
		if errors.As(err, &generic) {
			var status interface{ HTTPStatusCode() int }
			if code == "UnknownError" && errors.As(err, &status) {
				code = strconv.Itoa(status.HTTPStatusCode())
			}
			if msg == "UnknownError" {
				msg = ""
			}
		}
		operation := "Invoke"
		var opErr *smithy.OperationError
		if errors.As(err, &opErr) {
			operation = opErr.OperationName
		}
		return &invokeError{
			msg: fmt.Sprintf("An error occurred (%s) when calling the %s operation%s: %s", code, operation, retries, msg),
			err: err,
		}
	}
	var urlErr *url.Error
	var opErr *net.OpError
	if errors.As(err, &urlErr) && errors.As(err, &opErr) && opErr.Op == "dial" {
		return &invokeError{msg: `Could not connect to the endpoint URL: "` + urlErr.URL + `"`, err: err}
	}
	return err
}

// invokeError is an error with the AWS CLI's text.
type invokeError struct {
	msg string
	err error
}

func (e *invokeError) Error() string { return e.msg }
func (e *invokeError) Unwrap() error { return e.err }

// formatInvokeOutput renders the response metadata as the AWS CLI does:
// Python's json.dumps(indent=4, ensure_ascii=False) of the output members
// present, in the model's order, the payload left out.
func formatInvokeOutput(out *lambda.InvokeOutput) []byte {
	var b bytes.Buffer
	b.WriteString("{\n    \"StatusCode\": ")
	b.WriteString(strconv.Itoa(int(out.StatusCode)))
	for _, m := range []struct {
		name  string
		value *string
	}{
		{"FunctionError", out.FunctionError},
		{"LogResult", out.LogResult},
		{"ExecutedVersion", out.ExecutedVersion},
		{"DurableExecutionArn", out.DurableExecutionArn},
	} {
		if m.value == nil {
			continue
		}
		b.WriteString(",\n    \"")
		b.WriteString(m.name)
		b.WriteString("\": ")
		writePythonJSONString(&b, *m.value)
	}
	b.WriteString("\n}\n")
	return b.Bytes()
}

// writePythonJSONString writes s, an HTTP header value, as Python's
// json.dumps(ensure_ascii=False) writes it after http.client decoded the
// header as ISO-8859-1: every byte is one character.
func writePythonJSONString(b *bytes.Buffer, s string) {
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch ch := s[i]; ch {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		default:
			if ch < 0x20 {
				fmt.Fprintf(b, `\u%04x`, ch)
			} else {
				b.WriteRune(rune(ch))
			}
		}
	}
	b.WriteByte('"')
}
