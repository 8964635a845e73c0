// Package console serves the web console of a node at /console/: the list
// of functions, and each function's page with its configuration, versions,
// aliases and concurrency, a Test tab that invokes it, its live logs and
// charts of its last hour. Pages are rendered on the server (html/template);
// a little JavaScript of its own, with no library, invokes the function and
// follows its logs through the node's own Lambda and Logs APIs (which the
// console calls for it, in process), and refreshes the charts. With Keys (a
// node with --auth) a principal signs in with its access key and secret,
// and the console acts as that principal: its policies decide what it sees
// and does. It reads the functions and the metrics in process; it writes
// nothing itself.
package console

import (
	"cmp"
	"context"
	"embed"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lambada-dev/lambada"
	"github.com/lambada-dev/lambada/metrics"
)

// Path is where the console is served.
const Path = "/console/"

//go:embed templates/*.html static/*
var files embed.FS

var pages = template.Must(template.New("").Funcs(template.FuncMap{
	"ago":  ago,
	"join": strings.Join,
}).ParseFS(files, "templates/*.html"))

// Functions reads the functions (jetstream.FunctionStore).
type Functions interface {
	Function(ctx context.Context, key string) (*lambada.Function, error)
	Functions(ctx context.Context) ([]*lambada.Function, error)
}

// Metrics answers the data points of the charts (metrics.History).
type Metrics interface {
	Query(q metrics.MetricQuery) []metrics.Datapoint
}

// Server is the console.
type Server struct {
	Functions Functions
	Metrics   Metrics
	// API is the node's APIs, unsigned: the console's calls of them carry
	// the signed-in principal in their context.
	API http.Handler
	// Keys, when set, makes principals sign in; Authorizer then decides
	// what each may see, and SessionKey signs the sessions.
	Keys       Keys
	Authorizer Authorizer
	SessionKey []byte
	Region     string
	Account    string
	Logger     *slog.Logger
	Now        func() time.Time
}

// Handler serves the console under Path.
func (s *Server) Handler() http.Handler {
	if s.Logger == nil {
		s.Logger = slog.New(slog.DiscardHandler)
	}
	if s.Now == nil {
		s.Now = time.Now
	}
	mux := http.NewServeMux()
	static, _ := fs.Sub(files, "static")
	mux.Handle("GET "+Path+"static/", http.StripPrefix(Path+"static/", http.FileServerFS(static)))
	mux.HandleFunc("GET "+Path+"login", s.loginPage)
	mux.HandleFunc("POST "+Path+"login", s.login)
	mux.HandleFunc("POST "+Path+"logout", s.logout)
	mux.HandleFunc("GET "+Path+"{$}", s.signedIn(s.list))
	mux.HandleFunc("GET "+Path+"functions/{name}", s.signedIn(s.function))
	mux.HandleFunc("GET "+Path+"functions/{name}/charts", s.signedIn(s.charts))
	mux.HandleFunc("POST "+Path+"api/invoke/{name}", s.forward)
	mux.HandleFunc("POST "+Path+"api/logs", s.forward)
	return mux
}

// row is a function of the list.
type row struct {
	Name, State, Runtime string
	MemorySize           int
	LastInvoked          time.Time
}

func (s *Server) list(w http.ResponseWriter, r *http.Request) {
	if !s.allowed(w, r, "lambda:ListFunctions", "*") {
		return
	}
	fns, err := s.Functions.Functions(r.Context())
	if err != nil {
		s.fail(w, err)
		return
	}
	account := s.account(r.Context())
	var rows []row
	for _, f := range fns {
		if f.Account != account {
			continue // the console shows the caller's account
		}
		rows = append(rows, row{Name: f.Name, State: f.Latest.State, Runtime: f.Latest.Runtime, MemorySize: f.Latest.MemorySize,
			LastInvoked: s.lastInvoked(f.Key())})
	}
	s.render(w, "list.html", map[string]any{"Functions": rows, "Now": s.Now(), "SignedIn": s.Keys != nil})
}

// lastInvoked is the minute of the last invocation in the last day of the
// function whose AccountKey is name, or zero.
func (s *Server) lastInvoked(name string) time.Time {
	now := s.Now()
	points := s.Metrics.Query(metrics.MetricQuery{Name: "Invocations", Dimensions: map[string]string{"FunctionName": name},
		Start: now.Add(-metrics.Keep), End: now.Add(time.Minute), Period: time.Minute})
	if len(points) == 0 {
		return time.Time{}
	}
	return points[len(points)-1].Time
}

// page is what a function's page shows.
type page struct {
	Function    *lambada.Function
	ARN         string
	LogGroup    string
	Reserved    string
	Environment []string
	Charts      []chart
	SignedIn    bool // show the sign-out button
}

func (s *Server) function(w http.ResponseWriter, r *http.Request) {
	account := lambada.AccountKey("", s.account(r.Context()), "")
	arn := lambada.FunctionARN(s.Region, cmp.Or(strings.TrimSuffix(account, "/"), s.Account), r.PathValue("name"), "")
	if !s.allowed(w, r, "lambda:GetFunction", arn) {
		return
	}
	f, err := s.Functions.Function(r.Context(), account+r.PathValue("name"))
	if lambada.ErrorCode(err) == lambada.ENOTFOUND {
		w.WriteHeader(http.StatusNotFound)
		s.render(w, "notfound.html", map[string]any{"Name": r.PathValue("name")})
		return
	} else if err != nil {
		s.fail(w, err)
		return
	}
	p := page{Function: f, ARN: arn, LogGroup: f.Latest.Logging.Group(f.Name),
		Reserved: "none (the account's unreserved pool)", SignedIn: s.Keys != nil}
	if s.Authorizer == nil || s.Authorizer.Authorize(r.Context(), "cloudwatch:GetMetricData", "*", "") == nil {
		p.Charts = s.chartsOf(f.Key()) // else none: the caller may not read metrics
	}
	if f.ReservedConcurrency != nil {
		p.Reserved = itoa(*f.ReservedConcurrency)
	}
	for k, v := range f.Latest.Environment {
		p.Environment = append(p.Environment, k+"="+v)
	}
	slices.Sort(p.Environment)
	s.render(w, "function.html", p)
}

// charts serves a function's charts alone, for the page to refresh them.
func (s *Server) charts(w http.ResponseWriter, r *http.Request) {
	if !s.allowed(w, r, "cloudwatch:GetMetricData", "*") {
		return
	}
	s.render(w, "charts.html", s.chartsOf(lambada.AccountKey("", s.account(r.Context()), r.PathValue("name"))))
}

func (s *Server) render(w http.ResponseWriter, name string, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := pages.ExecuteTemplate(w, name, data); err != nil {
		s.Logger.Error("console: render", "page", name, "err", err)
	}
}

func (s *Server) fail(w http.ResponseWriter, err error) {
	s.Logger.Error("console", "err", err)
	http.Error(w, "The console could not read the node's state.", http.StatusInternalServerError)
}

// ago says how long before now t was: "3 min ago"; "never" for zero.
func ago(now, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t)
	switch {
	case d < time.Minute:
		return "this minute"
	case d < time.Hour:
		return itoa(int(d/time.Minute)) + " min ago"
	default:
		return itoa(int(d/time.Hour)) + " h ago"
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
