// Command minimal is the smallest Lambda runtime the benchmark can drive:
// no framework, one connection to the Runtime API, a hand-written HTTP/1.1
// exchange in a loop: GET next, POST the event back as the response. Its
// CPU time per invocation is close to nothing, so that a benchmark of it
// measures the platform rather than the function: the socket is a blocking
// one read and written by plain system calls, without Go's network poller
// (which would add a park, an epoll wait and a wake to every read).
package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strconv"
	"syscall"
)

func main() {
	conn, err := dial(os.Getenv("AWS_LAMBDA_RUNTIME_API"))
	if err != nil {
		fail(err)
	}
	r := bufio.NewReaderSize(conn, 64<<10)
	next := []byte("GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: runtime\r\n\r\n")
	var body, out []byte
	for {
		if _, err := conn.Write(next); err != nil {
			fail(err)
		}
		id, n := readHead(r)
		body = grow(body, n)
		if _, err := io.ReadFull(r, body); err != nil {
			fail(err)
		}
		out = append(out[:0], "POST /2018-06-01/runtime/invocation/"...)
		out = append(out, id...)
		out = append(out, "/response HTTP/1.1\r\nHost: runtime\r\nContent-Length: "...)
		out = strconv.AppendInt(out, int64(len(body)), 10)
		out = append(out, "\r\n\r\n"...)
		out = append(out, body...)
		if _, err := conn.Write(out); err != nil {
			fail(err)
		}
		_, n = readHead(r)
		if _, err := r.Discard(n); err != nil {
			fail(err)
		}
	}
}

// readHead reads a response's status line and headers and returns its
// request id header (if any) and its Content-Length.
func readHead(r *bufio.Reader) (id []byte, length int) {
	for {
		line, err := r.ReadSlice('\n')
		if err != nil {
			fail(err)
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			return id, length
		}
		k, v, ok := bytes.Cut(line, []byte(": "))
		switch {
		case !ok:
		case bytes.EqualFold(k, []byte("Lambda-Runtime-Aws-Request-Id")):
			id = append(id[:0], v...)
		case bytes.EqualFold(k, []byte("Content-Length")):
			length, _ = strconv.Atoi(string(v))
		}
	}
}

// dial connects a blocking TCP socket to addr (host:port, IPv4), with
// Nagle's algorithm off as Go's net package does.
func dial(addr string) (*os.File, error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil || !ap.Addr().Is4() {
		return nil, fmt.Errorf("runtime API address %q: want IPv4 host:port", addr)
	}
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	if err := syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1); err != nil {
		return nil, err
	}
	if err := syscall.Connect(fd, &syscall.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}); err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), "runtime-api"), nil // blocking: no poller
}

func grow(b []byte, n int) []byte {
	if cap(b) < n {
		return make([]byte, n)
	}
	return b[:n]
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "minimal runtime:", err)
	os.Exit(1)
}
