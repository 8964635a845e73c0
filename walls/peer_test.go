package walls

import (
	"bufio"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// otherUID is the host user the child processes of these tests run as.
const otherUID = 12345

// patience bounds every wait of these tests; none lasts it unless broken.
const patience = 10 * time.Second

// PeerUID names this process's user as the owner of its own connections,
// over IPv4, IPv6 and IPv4 on a dual-stack listener.
func TestPeerUID(t *testing.T) {
	for _, tc := range []struct{ name, listen, dial string }{
		{"ipv4", "127.0.0.1:0", "127.0.0.1"},
		{"ipv6", "[::1]:0", "::1"},
		{"dual-stack", ":0", "127.0.0.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", tc.listen)
			if err != nil {
				t.Skipf("cannot listen on %s: %v", tc.listen, err)
			}
			defer ln.Close()
			_, server := mustConnect(t, ln, tc.dial)
			uid, err := PeerUID(server)
			if err != nil || uid != uint32(os.Getuid()) {
				t.Errorf("PeerUID() = %d, %v; want %d", uid, err, os.Getuid())
			}
		})
	}
}

// PeerUID fails on what is not a TCP connection, on one whose client has
// closed its socket, and when there is no such socket.
func TestPeerUID_Errors(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if uid, err := PeerUID(a); err == nil {
		t.Errorf("pipe: PeerUID() = %d, want an error", uid)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, server := mustConnect(t, ln, "127.0.0.1")
	client.Close()
	if uid, err := PeerUID(server); err == nil {
		t.Errorf("closed client: PeerUID() = %d, want an error", uid)
	}

	// The kernel's error answer, for a socket that never was; the netlink
	// socket still serves the next query.
	port := ln.Addr().(*net.TCPAddr).Port
	req, err := diagRequest(&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1}, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
	if err != nil {
		t.Fatal(err)
	}
	if uid, err := diag.query(req); !errors.Is(err, errNotFound) {
		t.Errorf("no socket: query() = %d, %v; want errNotFound", uid, err)
	}
	// No connection from a source where a socket listens: the kernel
	// answers with the listener, which is no client.
	other, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	req, err = diagRequest(other.Addr().(*net.TCPAddr), &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1})
	if err != nil {
		t.Fatal(err)
	}
	if uid, err := diag.query(req); err == nil {
		t.Errorf("a listener's tuple: query() = %d, want an error", uid)
	}
	_, server = mustConnect(t, ln, "127.0.0.1")
	if uid, err := PeerUID(server); err != nil || uid != uint32(os.Getuid()) {
		t.Errorf("after the error: PeerUID() = %d, %v; want %d", uid, err, os.Getuid())
	}
}

// OnlyUID serves the connections of its user and closes the others unread:
// a child's running as another user, and this process's (root's).
func TestOnlyUID(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to start a process as another user")
	}
	// Not python3 from $PATH: root's may be where the other user cannot
	// read.
	const python = "/usr/bin/python3"
	if _, err := os.Stat(python); err != nil {
		t.Skip("no python3 to connect as another user:", err)
	}
	for _, tc := range []struct {
		name string
		uid  uint32
		// early: the child connects, writes and closes before the
		// server accepts: the kernel then reports its socket, in
		// TIME_WAIT, as root's.
		early                 bool
		wantChild, wantParent string // the answers; "": refused
	}{
		{name: "root's served, the child's refused", uid: 0, wantParent: "ok parent\n"},
		{name: "the child's served, root's refused", uid: otherUID, wantChild: "ok child\n"},
		{name: "a closed child's refused", uid: 0, early: true, wantParent: "ok parent\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			port := ln.Addr().(*net.TCPAddr).Port
			s := &echoServer{ln: OnlyUID(ln, tc.uid, nil)}
			if tc.early {
				if got := runChild(t, python, port, false); got != "" {
					t.Fatalf("early child read %q", got)
				}
			}
			s.start()
			if !tc.early {
				if got := runChild(t, python, port, true); got != tc.wantChild {
					t.Errorf("child's answer %q, want %q", got, tc.wantChild)
				}
			}
			client, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer client.Close()
			if got := answer(t, client, "parent"); got != tc.wantParent {
				t.Errorf("this process's answer %q, want %q", got, tc.wantParent)
			}
			ln.Close()
			if err := s.wait(); !errors.Is(err, net.ErrClosed) {
				t.Errorf("Accept after Close: %v, want net.ErrClosed", err)
			}
			var want []string
			if tc.wantChild != "" {
				want = append(want, "child\n")
			}
			if tc.wantParent != "" {
				want = append(want, "parent\n")
			}
			if !slices.Equal(s.lines, want) {
				t.Errorf("the server read %q, want %q", s.lines, want)
			}
		})
	}
}

// echoServer answers "ok <line>" to the first line of each connection it
// accepts, one at a time, and records the lines.
type echoServer struct {
	ln    net.Listener
	done  sync.WaitGroup
	lines []string // read once wait returned
	err   error    // Accept's last
}

// start accepts until Accept fails.
func (s *echoServer) start() {
	s.done.Go(func() {
		for {
			c, err := s.ln.Accept()
			if err != nil {
				s.err = err
				return
			}
			c.SetDeadline(time.Now().Add(patience))
			line, _ := bufio.NewReader(c).ReadString('\n')
			s.lines = append(s.lines, line)
			io.WriteString(c, "ok "+line)
			c.Close()
		}
	})
}

// wait waits for the server to stop and returns Accept's error.
func (s *echoServer) wait() error {
	s.done.Wait()
	return s.err
}

// childScript connects to port argv[1] of the loopback and writes
// "child". In mode (argv[2]) "read", it then prints the answer (nothing
// when refused); in mode "close", it closes its socket once the server
// acknowledged its FIN, which makes the socket a TIME_WAIT one at once.
const childScript = `
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
try:
    s.sendall(b"child\n")
    if sys.argv[2] == "read":
        sys.stdout.write(s.makefile().read())
    else:
        s.shutdown(socket.SHUT_WR)
        deadline = time.monotonic() + 10
        while s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1)[0] != 5: # FIN-WAIT-2
            if time.monotonic() > deadline:
                sys.exit("FIN not acknowledged")
            time.sleep(0.002)
        s.close()
except (ConnectionResetError, BrokenPipeError):
    pass
`

// runChild runs childScript as otherUID and returns what it printed.
func runChild(t *testing.T, python string, port int, read bool) string {
	t.Helper()
	mode := "close"
	if read {
		mode = "read"
	}
	cmd := exec.CommandContext(t.Context(), python, "-c", childScript, strconv.Itoa(port), mode)
	cmd.Dir = "/"
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: otherUID, Gid: otherUID}}
	cmd.WaitDelay = patience
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child: %v", err)
	}
	return string(out)
}

// answer writes line to c and returns all it answers, "" when c is
// refused (closed or reset).
func answer(t *testing.T, c net.Conn, line string) string {
	t.Helper()
	c.SetDeadline(time.Now().Add(patience))
	io.WriteString(c, line+"\n") // fails if already refused
	b, err := io.ReadAll(c)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("no answer nor close in %v", patience)
	}
	return string(b)
}

// mustConnect dials ln at host (its port) and returns both ends.
func mustConnect(tb testing.TB, ln net.Listener, host string) (client, server net.Conn) {
	tb.Helper()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	client, err := net.Dial("tcp", net.JoinHostPort(host, port))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { client.Close() })
	server, err = ln.Accept()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { server.Close() })
	return client, server
}

// BenchmarkPeerUID measures one owner query, alone and from every CPU at
// once (they take turns on one netlink socket).
func BenchmarkPeerUID(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	_, server := mustConnect(b, ln, "127.0.0.1")
	b.Run("serial", func(b *testing.B) {
		for b.Loop() {
			if _, err := PeerUID(server); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := PeerUID(server); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
