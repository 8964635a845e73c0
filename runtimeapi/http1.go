package runtimeapi

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"path"
	"strconv"
	"sync"
	"time"
)

// The Runtime API's HTTP/1.1, written for its one kind of client: a runtime
// process on the same machine, one keep-alive connection, asking for an
// event and posting its answer in a loop. net/http costs this exchange about
// 85 µs of CPU per invocation (measured here: a raw runtime driven back to
// back, the server's CPU time); this server about a third of that. It reads
// what runtimes send: Content-Length and chunked bodies, trailers (as
// aws-lambda-go sends them), Expect: 100-continue, Connection: close; it
// answers malformed requests with 400 and closes the connection.

// Limits of a request's head.
const (
	maxLine    = 8 << 10 // bytes of a request line or header line
	maxHeaders = 100     // header (and trailer) lines of one request
)

// Server serves the Runtime API to one Runtime. Serve accepts connections;
// Close stops it.
type Server struct {
	rt     Runtime
	ctx    context.Context // ends when the server is closed: a waiting next gives up
	cancel context.CancelFunc

	mu     sync.Mutex
	ln     net.Listener
	conns  map[net.Conn]struct{}
	closed bool
}

// NewServer returns a Server of rt's Runtime API.
func NewServer(rt Runtime) *Server {
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{rt: rt, ctx: ctx, cancel: cancel, conns: make(map[net.Conn]struct{})}
}

// Serve accepts connections on ln, each served by a goroutine of its own,
// until the server is closed. It returns net.ErrClosed then.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ln.Close()
		return net.ErrClosed
	}
	s.ln = ln
	s.mu.Unlock()
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return net.ErrClosed
		}
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		go s.serveConn(c)
	}
}

// Close stops accepting, ends the waiting requests and closes every
// connection. It does not wait for the connections' goroutines, which end
// on their own.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	ln := s.ln
	conns := s.conns
	s.conns = nil
	s.mu.Unlock()
	s.cancel()
	if ln != nil {
		ln.Close()
	}
	for c := range conns {
		c.Close()
	}
	return nil
}

func (s *Server) serveConn(c net.Conn) {
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		c.Close()
	}()
	if serve(s.ctx, s.rt, bufio.NewReaderSize(c, maxLine), bufio.NewWriterSize(c, 16<<10)) {
		linger(c)
	}
}

// serve answers the requests read from r on w until the connection must
// close (or the client closes it). It reports whether it ended the
// connection while the client may still be sending.
func serve(ctx context.Context, rt Runtime, r *bufio.Reader, w *bufio.Writer) (unread bool) {
	var req request
	for {
		err := req.readHead(r)
		if err != nil {
			if !errors.Is(err, io.EOF) || req.started {
				writeText(w, nil, http.StatusBadRequest, "malformed request", "")
				_ = w.Flush()
				return true
			}
			return false
		}
		keep := route(ctx, rt, &req, r, w)
		if w.Flush() != nil {
			return false
		}
		if !keep {
			return true
		}
		if req.close {
			return false
		}
	}
}

// Lingering bounds what linger reads and how long it waits.
const (
	lingerBytes = 256 << 10
	lingerFor   = 500 * time.Millisecond
)

// linger closes the sending half of c and reads what the client still
// sends, for a while, before c is closed: closing a socket with unread
// input resets the connection, and the reset can destroy the answer before
// the client reads it.
func linger(c net.Conn) {
	hc, ok := c.(interface{ CloseWrite() error }) // a TCP connection, or one wrapping it
	if !ok || hc.CloseWrite() != nil {
		return
	}
	_ = c.SetReadDeadline(time.Now().Add(lingerFor))
	_, _ = io.CopyN(io.Discard, c, lingerBytes)
}

// request is the head of one request, and what was read of its body.
type request struct {
	started       bool // a byte of the request was read
	method        string
	target        string // the path as sent (escaped), without query
	contentLength int64  // -1: none
	chunked       bool
	close         bool
	expect        bool // Expect: 100-continue
	contentType   string
	errorType     string // Lambda-Runtime-Function-Error-Type
	trailerType   string // the same, as a trailer
	trailerBody   string // Lambda-Runtime-Function-Error-Body, as a trailer
}

var errMalformed = errors.New("runtimeapi: malformed request")

// readHead reads a request line and headers.
func (q *request) readHead(r *bufio.Reader) error {
	*q = request{contentLength: -1}
	line, err := readLine(r)
	if err != nil {
		return err
	}
	q.started = true
	method, rest, ok1 := bytes.Cut(line, []byte(" "))
	target, proto, ok2 := bytes.Cut(rest, []byte(" "))
	switch {
	case !ok1 || !ok2 || len(method) == 0 || len(target) == 0:
		return errMalformed
	case bytes.Equal(proto, []byte("HTTP/1.1")):
	case bytes.Equal(proto, []byte("HTTP/1.0")):
		q.close = true
	default:
		return errMalformed
	}
	q.method = string(method)
	if i := bytes.IndexByte(target, '?'); i >= 0 {
		target = target[:i]
	}
	q.target = string(target)
	for n := 0; ; n++ {
		k, v, end, err := readField(r, n)
		if err != nil {
			return errMalformed
		}
		if end {
			break
		}
		switch {
		case bytes.EqualFold(k, []byte("Content-Length")):
			n, err := strconv.ParseInt(string(v), 10, 64)
			if err != nil || n < 0 {
				return errMalformed
			}
			q.contentLength = n
		case bytes.EqualFold(k, []byte("Transfer-Encoding")):
			if !bytes.EqualFold(v, []byte("chunked")) {
				return errMalformed
			}
			q.chunked = true
		case bytes.EqualFold(k, []byte("Connection")):
			q.close = q.close || bytes.EqualFold(v, []byte("close"))
		case bytes.EqualFold(k, []byte("Expect")):
			q.expect = bytes.EqualFold(v, []byte("100-continue"))
		case bytes.EqualFold(k, []byte("Content-Type")):
			q.contentType = string(v)
		case bytes.EqualFold(k, []byte(hErrorType)):
			q.errorType = string(v)
		}
	}
	if q.chunked {
		q.contentLength = -1
	}
	return nil
}

// readField reads the n-th field (from 0) of a header or trailer section:
// its name and trimmed value, or end at the blank line that ends the
// section. More than maxHeaders fields, or a line without a colon, is
// malformed.
func readField(r *bufio.Reader, n int) (k, v []byte, end bool, err error) {
	line, err := readLine(r)
	switch {
	case err != nil:
		return nil, nil, false, err
	case len(line) == 0:
		return nil, nil, true, nil
	case n == maxHeaders:
		return nil, nil, false, errMalformed
	}
	k, v, ok := bytes.Cut(line, []byte(":"))
	if !ok {
		return nil, nil, false, errMalformed
	}
	return k, bytes.TrimSpace(v), false, nil
}

// readLine reads one line without its CRLF (or LF).
func readLine(r *bufio.Reader) ([]byte, error) {
	line, err := r.ReadSlice('\n')
	switch {
	case errors.Is(err, bufio.ErrBufferFull):
		return nil, errMalformed
	case err != nil:
		if len(line) > 0 && errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

// bodyResult says how reading a body ended.
type bodyResult uint8

const (
	bodyOK        bodyResult = iota
	bodyTooLarge             // over the limit: the rest is not read
	bodyTruncated            // the connection ended (or the chunks broke) first
)

// readBody reads the request's body, at most limit bytes, and its
// trailers. After bodyTooLarge or bodyTruncated the connection must close.
func (q *request) readBody(r *bufio.Reader, w *bufio.Writer, limit int64) ([]byte, bodyResult) {
	var src io.Reader
	switch {
	case q.chunked:
		src = httputil.NewChunkedReader(r)
	case q.contentLength > limit:
		return nil, bodyTooLarge
	case q.contentLength > 0:
		src = io.LimitReader(r, q.contentLength)
	default:
		return nil, bodyOK
	}
	if q.expect {
		_, _ = w.WriteString("HTTP/1.1 100 Continue\r\n\r\n")
		if w.Flush() != nil {
			return nil, bodyTruncated
		}
	}
	size := q.contentLength
	if size < 0 || size > 64<<10 {
		size = 512
	}
	body := make([]byte, 0, size)
	for {
		if int64(len(body)) > limit {
			return nil, bodyTooLarge
		}
		if len(body) == cap(body) {
			body = append(body, 0)[:len(body)]
		}
		n, err := src.Read(body[len(body):cap(body)])
		body = body[:len(body)+n]
		if errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, bodyTruncated
		}
	}
	switch {
	case int64(len(body)) > limit:
		return nil, bodyTooLarge
	case !q.chunked && int64(len(body)) < q.contentLength:
		return nil, bodyTruncated
	case q.chunked:
		if err := q.readTrailers(r); err != nil {
			return nil, bodyTruncated
		}
	}
	return body, bodyOK
}

// readTrailers reads the trailer section of a chunked body.
func (q *request) readTrailers(r *bufio.Reader) error {
	for n := 0; ; n++ {
		k, v, end, err := readField(r, n)
		if err != nil || end {
			return err
		}
		switch {
		case bytes.EqualFold(k, []byte(hErrorType)):
			q.trailerType = string(v)
		case bytes.EqualFold(k, []byte(hErrorBody)):
			q.trailerBody = string(v)
		}
	}
}

// segments splits the request's path into its unescaped segments, or
// reports false for a path no runtime sends (not absolute, not clean, or
// badly escaped).
func (q *request) segments() ([]string, bool) {
	p := q.target
	if p == "" || p[0] != '/' || path.Clean(p) != p {
		return nil, false
	}
	parts := bytes.Split([]byte(p[1:]), []byte("/"))
	out := make([]string, len(parts))
	for i, s := range parts {
		if bytes.IndexByte(s, '%') < 0 {
			out[i] = string(s)
			continue
		}
		u, err := url.PathUnescape(string(s))
		if err != nil {
			return nil, false
		}
		out[i] = u
	}
	return out, true
}

// writeHead writes a response's status line and its Content-Type and
// Content-Length; other headers follow, then the blank line (endHead).
func writeHead(w *bufio.Writer, status int, contentType string, length int) {
	_, _ = w.WriteString("HTTP/1.1 ")
	_, _ = w.WriteString(strconv.Itoa(status))
	_ = w.WriteByte(' ')
	_, _ = w.WriteString(http.StatusText(status))
	_, _ = w.WriteString("\r\nContent-Type: ")
	_, _ = w.WriteString(contentType)
	_, _ = w.WriteString("\r\nContent-Length: ")
	_, _ = w.WriteString(strconv.Itoa(length))
	_, _ = w.WriteString("\r\n")
}

// writeHeader writes one header line.
func writeHeader(w *bufio.Writer, k, v string) {
	_, _ = w.WriteString(k)
	_, _ = w.WriteString(": ")
	_, _ = w.WriteString(v)
	_, _ = w.WriteString("\r\n")
}

// endHead ends the head and writes body.
func endHead(w *bufio.Writer, body []byte) {
	_, _ = w.WriteString("\r\n")
	_, _ = w.Write(body)
}

// writeText writes a text/plain response to q (q nil: a request that could
// not be read, after which the connection closes), with an Allow header
// when allow is not empty; a HEAD request gets no body.
func writeText(w *bufio.Writer, q *request, status int, text, allow string) {
	writeHead(w, status, "text/plain; charset=utf-8", len(text)+1)
	if allow != "" {
		writeHeader(w, "Allow", allow)
	}
	if q == nil {
		writeHeader(w, "Connection", "close")
	}
	if q != nil && q.method == http.MethodHead {
		endHead(w, nil)
		return
	}
	endHead(w, []byte(text+"\n"))
}
