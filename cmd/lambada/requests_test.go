package main

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// A request whose headers are too large gets 431 with a readable body; a
// client that stops half-way through its headers is cut off after the
// read-header timeout, while a synchronous invocation longer than it runs
// to its end (TestServe_InvokeLongerThanServerTimeouts).
func TestServe_HeaderLimits(t *testing.T) {
	t.Parallel()
	const headerTimeout = 200 * time.Millisecond
	m := MustOpenMain(t, "", func(m *Main) { m.ReadHeaderTimeout, m.ReadTimeout = headerTimeout, time.Hour })

	req, _ := http.NewRequest(http.MethodGet, "http://"+m.Addr()+"/2015-03-31/functions", nil)
	req.Header.Set("X-Padding", strings.Repeat("x", maxHeaderBytes+8<<10))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge || !strings.Contains(string(body), "Request Header Fields Too Large") {
		t.Errorf("%d %q", resp.StatusCode, body)
	}
	req.Header.Set("X-Padding", strings.Repeat("x", maxHeaderBytes/2))
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Errorf("headers under the limit: %v %v", err, resp)
	} else {
		resp.Body.Close()
	}

	// Headers that never end: the server closes the connection once the
	// header timeout has passed (far sooner than the read timeout).
	conn, err := net.Dial("tcp", m.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "GET /2015-03-31/functions HTTP/1.1\r\nHost: x\r\nX-Slow: "); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	_, err = bufio.NewReader(conn).ReadString('\n')
	if err != io.EOF {
		t.Errorf("after %v: %v, want the connection closed (EOF)", time.Since(start), err)
	}
}
