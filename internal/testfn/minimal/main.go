// Command minimal is the smallest Lambda runtime the benchmark can drive:
// no framework, one connection to the Runtime API, a hand-written HTTP/1.1
// exchange in a loop: GET next, POST the event back as the response. Its
// CPU time per invocation is close to nothing, so that a benchmark of it
// measures the platform rather than the function.
package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
)

func main() {
	conn, err := net.Dial("tcp", os.Getenv("AWS_LAMBDA_RUNTIME_API"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
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
