package walls

import (
	"errors"
	"io"
	"net"
	"os"
	"slices"
	"testing"
)

// A Router hands each connection to its user's route: a child running as
// another user reaches that user's server only, this process (root) its
// own; a user without a route, or whose route closed, is refused.
func TestRouter(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to start a process as another user")
	}
	const python = "/usr/bin/python3"
	if _, err := os.Stat(python); err != nil {
		t.Skip("no python3 to connect as another user:", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := NewRouter(ln, nil)
	defer r.Close()
	port := r.Addr().(*net.TCPAddr).Port
	childLn, err := r.Listen(otherUID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Listen(otherUID); err == nil {
		t.Error("a second route for one user")
	}
	child := &echoServer{ln: childLn}
	child.start()
	if got := runChild(t, python, port, true); got != "ok child\n" {
		t.Errorf("the child's answer %q, want its own server's", got)
	}
	// Root has no route yet: refused.
	client, err := net.Dial("tcp", r.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if got := answer(t, client, "parent"); got != "" {
		t.Errorf("a user without a route got %q", got)
	}
	rootLn, err := r.Listen(uint32(os.Getuid()))
	if err != nil {
		t.Fatal(err)
	}
	root := &echoServer{ln: rootLn}
	root.start()
	client, err = net.Dial("tcp", r.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if got := answer(t, client, "parent"); got != "ok parent\n" {
		t.Errorf("root's answer %q, want its own server's", got)
	}
	// A closed route refuses its user from then on.
	childLn.Close()
	if err := child.wait(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Accept after Close: %v", err)
	}
	if got := runChild(t, python, port, true); got != "" {
		t.Errorf("after its route closed the child got %q", got)
	}
	if !slices.Equal(child.lines, []string{"child\n"}) {
		t.Errorf("the child's server read %q", child.lines)
	}
	r.Close()
	if err := root.wait(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Accept after the router's Close: %v", err)
	}
	if !slices.Equal(root.lines, []string{"parent\n"}) {
		t.Errorf("root's server read %q", root.lines)
	}
}

// An environment holds at most MaxRuntimeConns connections to its Runtime
// API: one more is closed, until one of them is.
func TestRouter_ConnectionCap(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := NewRouter(ln, nil)
	defer r.Close()
	mine, err := r.Listen(uint32(os.Getuid()))
	if err != nil {
		t.Fatal(err)
	}
	dial := func() net.Conn {
		t.Helper()
		c, err := net.Dial("tcp", r.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	accepted := make([]net.Conn, 0, MaxRuntimeConns)
	for range MaxRuntimeConns {
		dial()
		c, err := mine.Accept()
		if err != nil {
			t.Fatal(err)
		}
		accepted = append(accepted, c)
	}
	if got := answer(t, dial(), "one too many"); got != "" {
		t.Errorf("connection %d got %q", MaxRuntimeConns+1, got)
	}
	accepted[0].Close()
	go func() {
		c, err := mine.Accept()
		if err == nil {
			io.WriteString(c, "served\n")
			c.Close()
		}
	}()
	if got := answer(t, dial(), "after one closed"); got != "served\n" {
		t.Errorf("once one closed, a new connection got %q", got)
	}
	for _, c := range accepted[1:] {
		c.Close()
	}
}
