package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/lambada-dev/lambada"
	"github.com/lambada-dev/lambada/async"
	"github.com/lambada-dev/lambada/auth"
	"github.com/lambada-dev/lambada/cloudwatchapi"
	"github.com/lambada-dev/lambada/codecache"
	"github.com/lambada-dev/lambada/console"
	"github.com/lambada-dev/lambada/deploy"
	"github.com/lambada-dev/lambada/funclog"
	"github.com/lambada-dev/lambada/internal/every"
	"github.com/lambada-dev/lambada/invoke"
	"github.com/lambada-dev/lambada/jetstream"
	"github.com/lambada-dev/lambada/lambdaapi"
	"github.com/lambada-dev/lambada/logsapi"
	"github.com/lambada-dev/lambada/metrics"
	"github.com/lambada-dev/lambada/relay"
	"github.com/lambada-dev/lambada/runtimes"
	"github.com/lambada-dev/lambada/sandbox"
	"github.com/lambada-dev/lambada/sigv4"
	"github.com/lambada-dev/lambada/sqsapi"
	"github.com/lambada-dev/lambada/walls"
)

// DefaultLogRetention is how long the events of a log group without a
// retention policy are kept.
const DefaultLogRetention = 7 * 24 * time.Hour

// Main is one running Lambada node. Open starts it (the listener is bound
// when Open returns, so ":0" works and "address in use" surfaces at once);
// Close stops it. The end-to-end tests run exactly this.
type Main struct {
	Listen  string // address of the Lambda API
	Data    string // directory of the store and the code cache
	Region  string
	Account string
	Logger  *slog.Logger
	// FunctionLog is where function output and platform lines are echoed
	// (the server log's writer, which must copy what it is given); nil:
	// nowhere.
	FunctionLog io.Writer
	// FunctionLogRate and FunctionLogBurst bound what each function copies
	// to FunctionLog: bytes a second, and at once (zero: funclog's
	// defaults, 64 KiB and 1 MiB).
	FunctionLogRate, FunctionLogBurst int
	// LogRetention is how long the events of a log group with no
	// retention policy are kept (zero: DefaultLogRetention); LogBytes is
	// how many bytes of events the node keeps (zero: the store's default,
	// 1 GiB), the oldest dropped first.
	LogRetention time.Duration
	LogBytes     int64
	// LogSweepEvery is how often events past their retention are removed
	// (zero: a minute).
	LogSweepEvery time.Duration

	// Cluster, when set, clusters this node's embedded store with its
	// peers'. NATS, when set, is the URL of an existing NATS cluster to
	// use instead of an embedded store, with NATSCreds its creds file;
	// Replicas is then how many copies of each bucket and stream it keeps.
	Cluster   *jetstream.Cluster
	NATS      string
	NATSCreds string
	Replicas  int
	// NodeName is this node's name in the cluster (default: its
	// --cluster-listen, or the host's name and a random suffix kept in
	// the data directory).
	NodeName string
	// RelayListen is where this node takes invocations straight from the
	// other nodes (default: with Cluster, its Listen's host on any port;
	// with NATS, nowhere: over NATS only).
	RelayListen string
	// HeartbeatEvery and HeartbeatTimeout say how often it tells the
	// others it is alive, and how long after its last heartbeat they take
	// its share of the limits over (zero: 1 s and 5 s).
	HeartbeatEvery, HeartbeatTimeout time.Duration

	// Concurrency is the account's concurrency limit (default 1000).
	Concurrency int
	// KeepWarm is how long idle environments are kept (default 10 min).
	KeepWarm time.Duration
	// MemoryMB is the budget for the memory live environments use; zero
	// means no budget.
	MemoryMB int

	// AsyncTimeScale multiplies the asynchronous queue's retry delays,
	// back-offs and maximum event age (AWS's minutes become seconds in
	// tests); zero means 1.
	AsyncTimeScale float64
	// EventBytes is how many bytes of accepted asynchronous events the
	// queue may hold; zero means the store's default (1 GiB).
	EventBytes int64
	// CodePruneEvery and CodePruneAge say how often code no function uses
	// is removed, and how long it is kept first (zero: 1 min, and 10 min
	// since it was stored or unpacked, 16 min since no function used it).
	CodePruneEvery, CodePruneAge time.Duration
	// Fsync syncs every write of the store to disk before acknowledging
	// it: an accepted event then survives a power failure too.
	Fsync bool
	// RuntimePaths maps managed runtimes (python3.12) to the interpreters
	// they run on, over those found on the host.
	RuntimePaths map[string]string
	// Auth is the file of the principals that may call the node (their
	// keys, accounts and policies): every request must then carry an AWS
	// Signature Version 4 of one of them. "": any request is accepted.
	Auth string
	// NoZygotes starts every Python environment by exec, not by a fork of
	// a zygote (which only walled-in environments use).
	NoZygotes bool
	// Isolation is how environments are walled in besides memory:
	// IsolationAuto ("" too), IsolationRequired or IsolationOff.
	Isolation string
	// FirstUID and LastUID are the host uids (and gids) environments run
	// as, one each; zero: DefaultFirstUID to DefaultLastUID.
	FirstUID, LastUID uint32

	// Server timeouts for requests other than a synchronous invocation's
	// wait, which has none. ReadHeaderTimeout bounds the reading of a
	// request's headers; ReadTimeout the reading of the whole request.
	ReadHeaderTimeout, ReadTimeout, WriteTimeout, IdleTimeout time.Duration

	node       *jetstream.Node
	preparer   *deploy.Preparer
	limiter    *invoke.Limiter
	metrics    *metrics.Metrics
	logs       *funclog.Book
	stopSweep  func()
	stopSample func()
	async      *async.Dispatcher
	relay      *relay.Relay       // in a cluster
	members    *jetstream.Members // in a cluster
	applier    *applier           // in a cluster
	fencing    sync.Mutex         // orders fence and leave
	leaving    bool               // under fencing: the node fenced itself for good (leave)
	pruner     *codecache.Pruner
	sandboxes  *sandbox.Manager
	jail       *walls.Jail       // nil: environments are not walled in besides memory
	router     *walls.Router     // with jail: every environment's Runtime API
	zygotes    *runtimes.Zygotes // with jail: what forks Python environments
	auth       *auth.Directory   // with Auth: who may call
	noJail     error             // why not, then
	ln         net.Listener
	srv        *http.Server
	served     chan error
	unlock     func() error // releases the data directory
	closeOnce  sync.Once
	closeErr   error
}

// Open starts the store, the execution environments and the API server.
func (m *Main) Open(ctx context.Context) (err error) {
	if m.Logger == nil {
		m.Logger = slog.New(slog.DiscardHandler)
	}
	defer func() {
		if err != nil {
			m.Close()
		}
	}()
	// Functions run in their code directory: every path handed to them
	// must be absolute.
	if m.Data, err = filepath.Abs(m.Data); err != nil {
		return err
	}
	if err := os.MkdirAll(m.Data, 0o755); err != nil {
		return err
	}
	if m.unlock, err = lockDataDir(m.Data); err != nil {
		return err
	}
	if m.AsyncTimeScale <= 0 {
		m.AsyncTimeScale = 1
	}
	ackWait := max(time.Second, time.Duration(float64(jetstream.DefaultAckWait)*m.AsyncTimeScale))
	if m.node, err = jetstream.Open(ctx, jetstream.Config{Dir: m.Data, Logger: m.Logger.With("component", "store"),
		EventBytes: m.EventBytes, AckWait: ackWait, SyncAlways: m.Fsync, LogBytes: m.LogBytes,
		Cluster: m.Cluster, URL: m.NATS, Credentials: m.NATSCreds, Replicas: m.Replicas}); err != nil {
		return err
	}
	code := &codecache.Cache{Dir: filepath.Join(m.Data, "code"), Store: m.node.Code, Logger: m.Logger}
	m.sweep(code)
	// Functions left Pending or InProgress by a previous run are prepared
	// again.
	m.preparer = &deploy.Preparer{Functions: m.node.Functions, Code: code, Logger: m.Logger.With("component", "deploy")}
	if err := m.preparer.Open(ctx); err != nil {
		return err
	}
	m.pruner = &codecache.Pruner{Cache: code, Functions: m.node.Functions, Layers: m.node.Layers, Every: m.CodePruneEvery, MinAge: m.CodePruneAge, Grace: m.CodePruneAge,
		Logger: m.Logger.With("component", "codecache")}
	m.pruner.Open()
	if m.Concurrency == 0 {
		m.Concurrency = lambada.DefaultConcurrency
	}
	limiter := invoke.NewLimiter(m.Concurrency)
	m.limiter = limiter
	m.logs = &funclog.Book{Store: m.node.Logs, Out: m.FunctionLog, OutRate: m.FunctionLogRate, OutBurst: m.FunctionLogBurst,
		Logger: m.Logger.With("component", "funclog")}
	m.logs.Open()
	retention := cmp.Or(m.LogRetention, DefaultLogRetention)
	m.stopSweep = every.Start(context.Background(), cmp.Or(m.LogSweepEvery, time.Minute), func(ctx context.Context) {
		if err := m.node.Logs.Sweep(ctx, time.Now(), retention); err != nil {
			m.Logger.Error("expire log events", "err", err)
		}
	})
	if m.MemoryMB > 0 { // the budget bounds even memory no live environment's cgroup counts
		if err := walls.Detect(m.Logger).LimitAll(m.MemoryMB); err != nil {
			m.Logger.Warn("memory: the cgroup of all environments is not limited to the budget", "err", err)
		}
	}
	for r, path := range m.RuntimePaths {
		if err := runtimes.Use(r, path); err != nil {
			return fmt.Errorf("--runtime-path: %w", err)
		}
	}
	for _, r := range runtimes.Available() {
		lambada.OfferRuntime(r)
	}
	if err := m.openJail(); err != nil {
		return err
	}
	m.sandboxes = &sandbox.Manager{Logs: m.logs, Slots: limiter, Logger: m.Logger.With("component", "sandbox"), KeepWarm: m.KeepWarm, MemoryMB: m.MemoryMB,
		Jail: m.jail, Router: m.router}
	if m.Auth != "" {
		if m.auth, err = auth.Open(m.Auth); err != nil {
			return err
		}
		m.sandboxes.Credentials = func(role string) []string {
			c, ok := m.auth.Issue(role, roleCredentialsTTL)
			if !ok {
				return nil
			}
			return []string{"AWS_ACCESS_KEY_ID=" + c.AccessKeyID, "AWS_SECRET_ACCESS_KEY=" + c.SecretAccessKey, "AWS_SESSION_TOKEN=" + c.SessionToken}
		}
	}
	m.metrics = metrics.New(m.sandboxes, limiter, m.Account)
	m.sandboxes.Meter = m.metrics
	// The concurrency gauges' data points for CloudWatch.
	m.stopSample = every.Start(context.Background(), 10*time.Second, func(context.Context) { m.metrics.Sample() })
	if m.jail != nil && !m.NoZygotes {
		m.zygotes = runtimes.NewZygotes(m.Logger.With("component", "zygote"))
		m.sandboxes.Forkers = m.zygotes
	}
	invoker := &invoke.Service{
		Meter:       m.metrics,
		Functions:   m.node.Functions,
		Code:        code,
		Sandboxes:   m.sandboxes,
		Provisioner: m.sandboxes,
		Limiter:     limiter,
		Queue:       timedEvents{m.node.Events, m.metrics},
		Region:      m.Region,
		Account:     m.Account,
	}
	if m.clustered() {
		if err := m.openCluster(ctx, invoker); err != nil {
			return err
		}
	}
	// Reservations and provisioned concurrency take effect before the
	// first request.
	fns, err := m.node.Functions.Functions(ctx)
	if err != nil {
		return err
	}
	for _, f := range fns {
		if err := invoker.Apply(ctx, f.Key()); err != nil {
			m.Logger.Error("apply concurrency settings", "function", f.Key(), "err", err)
		}
	}
	codeLinkKey, err := m.node.Secret(ctx, "code-links")
	if err != nil {
		return err
	}
	api := &lambdaapi.Server{
		CodeLinkKey: codeLinkKey,
		Functions:   timedFunctions{m.node.Functions, m.metrics},
		Layers:      m.node.Layers,
		Code:        code,
		Invoker:     invoker,
		Provisioner: invoker,
		Preparer:    m.preparer,
		Region:      m.Region,
		Account:     m.Account,
		Concurrency: m.Concurrency,
		Logger:      m.Logger.With("component", "api"),
	}
	m.async = &async.Dispatcher{
		Queue:     m.node.Events,
		Functions: m.node.Functions,
		Runner:    invoker,
		Queues:    m.node.Queues,
		Region:    m.Region,
		Account:   m.Account,
		Scale:     m.AsyncTimeScale,
		AckWait:   m.node.Events.AckWait(),
		Logger:    m.Logger.With("component", "async"),
		Meter:     m.metrics,
	}
	m.async.Open()
	if m.ln, err = net.Listen("tcp", m.Listen); err != nil {
		return err
	}
	// The SQS API is served on the Lambda API's listener: its requests
	// are recognised by their X-Amz-Target or Action; the rest go to
	// lambda.
	sqs := &sqsapi.Server{Queues: m.node.Queues, Messages: m.node.Queues, Region: m.Region, Account: m.Account, Logger: m.Logger.With("component", "sqs")}
	// So is the CloudWatch Logs API: by its X-Amz-Target.
	logs := &logsapi.Server{Groups: m.node.Logs, GroupReader: m.node.Logs, Events: m.node.Logs, Region: m.Region, Account: m.Account,
		Logger: m.Logger.With("component", "logs")}
	// And CloudWatch's, for Lambda's metrics: by its path.
	cloudwatch := &cloudwatchapi.Server{History: m.metrics.History, Account: m.Account, Logger: m.Logger.With("component", "cloudwatch")}
	var authorizer *auth.Authorizer
	if m.auth != nil {
		authorizer = &auth.Authorizer{Directory: m.auth}
		api.Authorizer, sqs.Authorizer, logs.Authorizer, cloudwatch.Authorizer = authorizer, authorizer, authorizer, authorizer
	}
	handler := cloudwatch.Mount(logs.Mount(sqs.Mount(api.Handler())))
	// The web console calls the APIs above for its pages' script, as the
	// principal signed in to it (with --auth).
	sessionKey, err := m.node.Secret(ctx, "console-sessions")
	if err != nil {
		return err
	}
	pages := &console.Server{Functions: m.node.Functions, Metrics: m.metrics.History, API: handler, SessionKey: sessionKey,
		Region: m.Region, Account: m.Account, Logger: m.Logger.With("component", "console")}
	if m.auth != nil {
		pages.Keys, pages.Authorizer = m.auth, authorizer
	}
	metricsHandler := m.metrics.Handler()
	if m.auth != nil {
		// With --auth the metrics are a signed caller's who may
		// cloudwatch:GetMetricData: they name every account's functions.
		metricsHandler = authorized(authorizer, m.Account, "cloudwatch:GetMetricData", metricsHandler)
		handler = &sigv4.Gate{Next: withMetrics(metricsHandler, handler), Secrets: m.auth, Region: m.Region,
			Service: func(r *http.Request) string {
				if sqs.Recognises(r) {
					return "sqs"
				}
				if logs.Recognises(r) {
					return "logs"
				}
				if cloudwatch.Recognises(r) {
					return "monitoring"
				}
				return "lambda"
			},
			// Code links (GETs, never SQS's) carry a signature of their own.
			Exempt: func(r *http.Request) bool {
				return r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, lambdaapi.CodePath) && r.Header.Get("X-Amz-Target") == ""
			},
			MaxBody: maxSignedBody,
			Refuse: func(w http.ResponseWriter, r *http.Request, e *sigv4.Error) {
				if !sqs.WriteSignatureError(w, r, e.Type, e.Message) && !logs.WriteSignatureError(w, r, e.Type, e.Message) &&
					!cloudwatch.WriteSignatureError(w, r, e.Type, e.Message) {
					sigv4.WriteError(w, e)
				}
			}}
	} else {
		handler = withMetrics(metricsHandler, handler)
	}
	// The console is outside the gate: its pages are a browser's, which
	// signs nothing; it checks its sessions itself.
	handler = withConsole(pages.Handler(), handler)
	m.srv = &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: m.ReadHeaderTimeout,
		ReadTimeout:       m.ReadTimeout,
		MaxHeaderBytes:    maxHeaderBytes, // past it: 431 Request Header Fields Too Large
		WriteTimeout:      m.WriteTimeout,
		IdleTimeout:       m.IdleTimeout,
		ErrorLog:          slog.NewLogLogger(m.Logger.Handler(), slog.LevelDebug),
	}
	m.served = make(chan error, 1)
	go func() { m.served <- m.srv.Serve(m.ln) }()
	m.logWalls()
	return nil
}

// authorized serves the requests of a caller of account (the node's own:
// what it serves is every account's) who may perform action on "*" with
// next, and refuses the others as the Lambda API does.
func authorized(a *auth.Authorizer, account, action string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := a.Authorize(r.Context(), action, "*", "")
		if err == nil && a.Account(r.Context()) != account {
			err = &lambada.Error{Code: lambada.EACCESSDENIED, Message: "Principals of accounts other than " + account + " are not allowed to read the node's metrics."}
		}
		if err != nil {
			message := err.Error()
			if le := (*lambada.Error)(nil); errors.As(err, &le) {
				message = le.Message
			}
			sigv4.WriteError(w, &sigv4.Error{Status: http.StatusForbidden, Type: "AccessDeniedException", Message: message})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// withMetrics serves GET /metrics with metrics and every other request
// with next. Without --auth the metrics need no signature (Prometheus does
// not sign its scrapes).
func withMetrics(metrics, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/metrics" && r.Method == http.MethodGet {
			metrics.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// withConsole serves the web console's requests (under console.Path, and
// GET /console, sent there) with pages, and every other request with next.
func withConsole(pages, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodGet && r.URL.Path == strings.TrimSuffix(console.Path, "/"):
			http.Redirect(w, r, console.Path, http.StatusFound)
		case strings.HasPrefix(r.URL.Path, console.Path):
			pages.ServeHTTP(w, r)
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// roleCredentialsTTL is how long the credentials an environment gets for
// its execution role last: as long as AWS's longest role session.
const roleCredentialsTTL = 12 * time.Hour

// maxHeaderBytes bounds a request's line and headers: a hundred times
// what the AWS CLI sends with the largest client context.
const maxHeaderBytes = 64 << 10

// maxSignedBody is the largest request body whose signature is checked:
// the largest CreateFunction request AWS accepts.
const maxSignedBody = 70167211

// ReloadAuth reads the --auth file again (on SIGHUP); on an error the
// principals stay as they were.
func (m *Main) ReloadAuth() error {
	if m.auth == nil {
		return nil
	}
	return m.auth.Reload()
}

// sweep removes what a node killed on this data directory left behind: the
// cgroups of its environments (and whatever still ran in them) and its
// half-done unpacks, and says what it removed.
func (m *Main) sweep(code *codecache.Cache) {
	cgroups := walls.Detect(m.Logger).Sweep(m.Logger)
	unpacks, err := code.Sweep()
	if err != nil {
		m.Logger.Error("remove half-done unpacks", "err", err)
	}
	if len(cgroups) > 0 || len(unpacks) > 0 {
		m.Logger.Warn("removed what a node that was killed left behind", "cgroups", cgroups, "unpacks", unpacks)
	}
}

// Addr is the API's bound address.
func (m *Main) Addr() string { return m.ln.Addr().String() }

// Close stops accepting requests, stops every execution environment and
// closes the store. Calling it again returns the first call's result.
func (m *Main) Close() error {
	m.closeOnce.Do(func() { m.closeErr = m.close() })
	return m.closeErr
}

func (m *Main) close() error {
	var errs []error
	if m.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := m.srv.Shutdown(ctx); err != nil {
			m.srv.Close()
		}
		cancel()
		if err := <-m.served; err != nil && !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, err)
		}
	} else if m.ln != nil {
		m.ln.Close()
	}
	if m.relay != nil { // what it runs for the others ends first
		errs = append(errs, m.relay.Close())
	}
	if m.applier != nil {
		m.applier.close()
	}
	if m.async != nil {
		errs = append(errs, m.async.Close())
	}
	if m.members != nil { // the others take its share over at once: nothing may run here then
		m.leave()
		errs = append(errs, m.members.Close())
	}
	if m.pruner != nil {
		errs = append(errs, m.pruner.Close())
	}
	if m.preparer != nil {
		errs = append(errs, m.preparer.Close())
	}
	if m.sandboxes != nil {
		errs = append(errs, m.sandboxes.Close())
	}
	if m.logs != nil { // once no environment writes
		m.logs.Close()
	}
	if m.stopSweep != nil {
		m.stopSweep()
	}
	if m.stopSample != nil {
		m.stopSample()
	}
	if m.zygotes != nil { // once no environment is left
		m.zygotes.Close()
	}
	if m.router != nil { // once no environment is left
		errs = append(errs, m.router.Close())
	}
	if m.node != nil {
		errs = append(errs, m.node.Close())
	}
	if m.unlock != nil {
		errs = append(errs, m.unlock())
	}
	return errors.Join(errs...)
}

// defaultMemoryMB is most (80%) of the machine's memory, from /proc/meminfo;
// zero (no budget) where it cannot be read.
func defaultMemoryMB() int {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	return parseMemTotalMB(string(b)) * 8 / 10
}

// parseMemTotalMB returns the MemTotal line of /proc/meminfo in MB.
func parseMemTotalMB(meminfo string) int {
	for _, line := range strings.Split(meminfo, "\n") {
		if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			return kb / 1024
		}
	}
	return 0
}

// serveCommand is `lambada serve`.
type serveCommand struct{ Stderr io.Writer }

func (c *serveCommand) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("lambada serve", flag.ContinueOnError)
	fs.SetOutput(c.Stderr)
	m := &Main{}
	fs.StringVar(&m.Listen, "listen", "127.0.0.1:9001", "address of the Lambda API")
	fs.StringVar(&m.Data, "data", ".lambada", "directory of the store and the code cache")
	fs.StringVar(&m.Region, "region", "us-east-1", "the region this node answers as")
	fs.StringVar(&m.Account, "account", "000000000000", "the account id in ARNs")
	fs.IntVar(&m.Concurrency, "concurrency", lambada.DefaultConcurrency, "the account's concurrency limit: executions at once")
	fs.DurationVar(&m.KeepWarm, "keep-warm", sandbox.DefaultKeepWarm, "how long an idle execution environment is kept for reuse")
	fs.IntVar(&m.MemoryMB, "memory", defaultMemoryMB(), "MB that live execution environments may use together (idle ones are stopped, least recently used first, to make room); 0 for no budget")
	fs.Float64Var(&m.AsyncTimeScale, "async-time-scale", 1, "multiplies the asynchronous queue's retry delays (1 and 2 min), back-offs (1 s to 5 min) and maximum event age; 0.01 turns a minute into 0.6 s")
	fs.Int64Var(&m.EventBytes, "async-queue-bytes", jetstream.DefaultEventCap, "bytes of asynchronous events the queue may hold; past 90% of it new Event invocations are refused (the rest is kept for retries and destination records)")
	fs.BoolVar(&m.Fsync, "fsync", false, "sync every write of the store to disk before acknowledging it (an accepted event then survives a power failure, not only a crash of lambada; writes become several times slower)")
	fs.StringVar(&m.Isolation, "isolation", IsolationAuto, "how functions are walled in besides memory: "+IsolationAuto+" (every wall this host allows; the start says which are missing), "+IsolationRequired+" (refuse to start without all of them) or "+IsolationOff)
	fs.Func("runtime-path", "RUNTIME=PATH: the interpreter a managed runtime runs on (python3.12=/opt/python3.12/bin/python3.12), over the one found on the host (/usr/bin/python3.X, else python3.X on PATH, else pyenv's newest 3.X.*; node on PATH for nodejsNN.x); repeatable", func(v string) error {
		r, path, ok := strings.Cut(v, "=")
		if !ok || r == "" || path == "" {
			return errors.New("want RUNTIME=PATH")
		}
		if m.RuntimePaths == nil {
			m.RuntimePaths = map[string]string{}
		}
		m.RuntimePaths[r] = path
		return nil
	})
	fs.StringVar(&m.Auth, "auth", "", "a JSON file of the principals that may call (keys, accounts, ARNs, policies): every request must then be signed with one of their keys; read again on SIGHUP")
	fs.BoolVar(&m.NoZygotes, "no-zygotes", false, "start every Python environment by exec of its interpreter, not by a fork of one that has loaded Lambada's runtime client (walled-in environments only)")
	uids := fs.String("env-uids", fmt.Sprintf("%d-%d", DefaultFirstUID, DefaultLastUID), "the host uids (and gids) execution environments run as, one each: FIRST-LAST, used by nothing else on the host")
	logFunctions := fs.Bool("log-functions", false, "copy every function's output and its START, END and REPORT lines to this log")
	fs.IntVar(&m.FunctionLogRate, "log-functions-rate", funclog.DefaultOutRate, "with --log-functions, the bytes a second each function may add to this log after a burst of --log-functions-burst; the rest is dropped, and a line says how much")
	fs.IntVar(&m.FunctionLogBurst, "log-functions-burst", funclog.DefaultOutBurst, "with --log-functions, the bytes each function may add to this log at once")
	clusterListen := fs.String("cluster-listen", "", "HOST:PORT where this node's embedded store listens for its peers' (with --peers: the nodes form one JetStream cluster)")
	peers := fs.String("peers", "", "HOST:PORT,…: the --cluster-listen addresses of the other nodes of the cluster")
	clusterName := fs.String("cluster-name", jetstream.DefaultClusterName, "the cluster's name, the same on every node")
	fs.StringVar(&m.NodeName, "node-name", "", "this node's name in the cluster, unique (default: its --cluster-listen, or with --nats the host's name and a random suffix, kept in --data)")
	fs.StringVar(&m.NATS, "nats", "", "nats://HOST:PORT,…: use this NATS cluster (with JetStream) as the store instead of an embedded one")
	fs.StringVar(&m.NATSCreds, "nats-creds", "", "with --nats: the creds file to connect with")
	fs.StringVar(&m.RelayListen, "relay-listen", "", "in a cluster: HOST:PORT where this node takes warm invocations straight from the others (default: with --cluster-listen, its host on any port; with --nats, none: they go through NATS)")
	fs.DurationVar(&m.HeartbeatTimeout, "heartbeat-timeout", jetstream.DefaultHeartbeatTimeout, "in a cluster: how long after a node's last heartbeat (one a second, or a fifth of this when less) the others take its share of the limits over; a node that does not hear most of the others stops admitting invocations after half of it")
	fs.IntVar(&m.Replicas, "replicas", 0, "copies of each bucket and stream (default: 1; with --peers, as many nodes as there are, up to 3)")
	fs.DurationVar(&m.LogRetention, "log-retention", DefaultLogRetention, "how long the events of a log group without a retention policy (PutRetentionPolicy) are kept")
	fs.Int64Var(&m.LogBytes, "log-bytes", jetstream.DefaultLogBytes, "bytes of log events this node keeps; past it the oldest go first")
	fs.Usage = func() {
		fmt.Fprintln(c.Stderr, "Usage: lambada serve [flags]\n\nRuns a Lambada node: the Lambda API, the store (embedded NATS JetStream under --data) and the functions.\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("lambada serve: unexpected argument %q", fs.Arg(0))
	}
	if *clusterListen != "" {
		m.Cluster = &jetstream.Cluster{Name: *clusterName, Node: m.NodeName, Listen: *clusterListen}
		if *peers != "" {
			m.Cluster.Peers = strings.Split(*peers, ",")
		}
	} else if *peers != "" {
		return errors.New("lambada serve: --peers needs --cluster-listen")
	}
	if m.Cluster != nil && m.NATS != "" {
		return errors.New("lambada serve: --nats uses a cluster of NATS servers of its own: no --cluster-listen")
	}
	if m.HeartbeatTimeout < time.Millisecond { // a heartbeat every fifth of it
		return fmt.Errorf("lambada serve: --heartbeat-timeout %v: want 1ms or more", m.HeartbeatTimeout)
	}
	if _, err := fmt.Sscanf(*uids, "%d-%d", &m.FirstUID, &m.LastUID); err != nil || m.FirstUID == 0 || m.LastUID < m.FirstUID {
		return fmt.Errorf("lambada serve: --env-uids %q: want FIRST-LAST, 0 < FIRST ≤ LAST", *uids)
	}
	logw := newLogWriter(c.Stderr)
	defer logw.Close()
	m.Logger = slog.New(slog.NewTextHandler(logw, nil))
	if *logFunctions {
		m.FunctionLog = logw
	}
	m.ReadHeaderTimeout, m.ReadTimeout, m.WriteTimeout, m.IdleTimeout = 10*time.Second, time.Minute, time.Minute, 2*time.Minute
	if err := m.Open(ctx); err != nil {
		return fmt.Errorf("lambada serve: %w", err)
	}
	m.Logger.Info("lambada is serving the Lambda API", "url", "http://"+m.Addr(), "data", m.Data, "region", m.Region, "account", m.Account,
		"fsync", m.node.SyncsEveryWrite())
	if m.auth == nil {
		m.Logger.Warn("no --auth: every request is accepted whatever its credentials")
	} else {
		m.Logger.Info("every request must be signed (AWS Signature Version 4) with the key of a principal of --auth", "file", m.Auth, "principals", m.auth.Len())
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case err := <-m.served:
			m.served <- err
			done = true
		case <-hup:
			if err := m.ReloadAuth(); err != nil {
				m.Logger.Error("--auth not read again; the principals stay as they were", "err", err)
			} else if m.auth != nil {
				m.Logger.Info("--auth read again", "principals", m.auth.Len())
			}
		}
	}
	m.Logger.Info("lambada is stopping")
	return m.Close()
}
