package testfn

import (
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// MarksEnv is the variable that gives a test function the URL of the marks
// server: it then reads and writes its marks (files named by absolute host
// paths, which its walls hide) through it.
const MarksEnv = "TESTFN_MARKS"

var (
	marksOnce sync.Once
	marksURL  string
	marksErr  error
	marksMu   sync.Mutex // one append at a time, as O_APPEND would give
)

// MarksURL returns the URL of this test binary's marks server, started on
// the first call on the loopback: it serves the files under the system's
// temporary directory (where tests make theirs) and nothing else. GET
// answers a file (404 when there is none), PUT creates it empty, POST
// appends its body.
func MarksURL() (string, error) {
	marksOnce.Do(func() {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			marksErr = err
			return
		}
		go func() { _ = http.Serve(ln, http.HandlerFunc(serveMark)) }() // lives as long as the test binary
		marksURL = "http://" + ln.Addr().String()
	})
	return marksURL, marksErr
}

// MarksHandler serves marks as MarksURL's server does, for a server a
// test starts elsewhere (on an address its nodes' network namespaces
// reach).
var MarksHandler http.Handler = http.HandlerFunc(serveMark)

func serveMark(w http.ResponseWriter, r *http.Request) {
	path := filepath.Clean(r.URL.Path)
	if !strings.HasPrefix(path, filepath.Clean(os.TempDir())+"/") {
		http.Error(w, "not a test's file", http.StatusForbidden)
		return
	}
	switch r.Method {
	case http.MethodGet:
		b, err := os.ReadFile(path)
		if err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		_, _ = w.Write(b)
	case http.MethodPut:
		if err := os.WriteFile(path, nil, 0o644); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	case http.MethodPost:
		body, err := io.ReadAll(r.Body)
		if err == nil {
			marksMu.Lock()
			var f *os.File
			if f, err = os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644); err == nil {
				_, err = f.Write(body)
				if cerr := f.Close(); err == nil {
					err = cerr
				}
			}
			marksMu.Unlock()
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	default:
		http.Error(w, "", http.StatusMethodNotAllowed)
	}
}
