// Package natstest starts, for a test, the kind of NATS a user may already
// run and point Lambada at (--nats): JetStream servers, clustered, that
// only let in a user with credentials (JWT authentication, as a secured
// deployment or a hosted NATS has).
package natstest

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"
)

// Secured starts n NATS servers with JetStream on 127.0.0.1, clustered
// when n > 1, which trust one operator, and returns their client URLs
// (comma-separated) and the creds file of a user of an account with
// JetStream. The servers stop when the test ends.
func Secured(tb testing.TB, n int) (urls, creds string) {
	tb.Helper()
	must := func(s string, err error) string {
		tb.Helper()
		if err != nil {
			tb.Fatal(err)
		}
		return s
	}
	operator, _ := nkeys.CreateOperator()
	operatorClaims := jwt.NewOperatorClaims(must(operator.PublicKey()))
	system, _ := nkeys.CreateAccount()
	systemPub := must(system.PublicKey())
	account, _ := nkeys.CreateAccount()
	accountPub := must(account.PublicKey())
	accountClaims := jwt.NewAccountClaims(accountPub)
	accountClaims.Limits.JetStreamLimits = jwt.JetStreamLimits{MemoryStorage: jwt.NoLimit, DiskStorage: jwt.NoLimit,
		Streams: jwt.NoLimit, Consumer: jwt.NoLimit}
	accounts := map[string]string{
		systemPub:  must(jwt.NewAccountClaims(systemPub).Encode(operator)),
		accountPub: must(accountClaims.Encode(operator)),
	}
	user, _ := nkeys.CreateUser()
	seed, err := user.Seed()
	if err != nil {
		tb.Fatal(err)
	}
	file, err := jwt.FormatUserConfig(must(jwt.NewUserClaims(must(user.PublicKey())).Encode(account)), seed)
	if err != nil {
		tb.Fatal(err)
	}
	creds = filepath.Join(tb.TempDir(), "user.creds")
	if err := os.WriteFile(creds, file, 0o600); err != nil {
		tb.Fatal(err)
	}

	routes := make([]string, n)
	for i := range routes {
		routes[i] = Addrs(tb, 1)[0]
	}
	servers := make([]*server.Server, n)
	var clients []string
	for i := range n {
		resolver := &server.MemAccResolver{}
		for pub, claims := range accounts {
			if err := resolver.Store(pub, claims); err != nil {
				tb.Fatal(err)
			}
		}
		opts := &server.Options{ServerName: fmt.Sprintf("nats%d", i), Host: "127.0.0.1", Port: server.RANDOM_PORT,
			JetStream: true, StoreDir: tb.TempDir(), NoSigs: true,
			TrustedOperators: []*jwt.OperatorClaims{operatorClaims}, AccountResolver: resolver, SystemAccount: systemPub}
		if n > 1 {
			host, port, _ := net.SplitHostPort(routes[i])
			opts.Cluster = server.ClusterOpts{Name: "natstest", Host: host}
			opts.Cluster.Port, _ = strconv.Atoi(port)
			opts.Routes = server.RoutesFromStr(routeURLs(routes))
		}
		s, err := server.NewServer(opts)
		if err != nil {
			tb.Fatal(err)
		}
		s.Start()
		tb.Cleanup(s.Shutdown)
		servers[i] = s
	}
	for _, s := range servers {
		if !s.ReadyForConnections(10 * time.Second) {
			tb.Fatal("nats-server not ready")
		}
		clients = append(clients, s.ClientURL())
	}
	return strings.Join(clients, ","), creds
}

func routeURLs(addrs []string) string {
	out := make([]string, len(addrs))
	for i, a := range addrs {
		out[i] = "nats://" + a
	}
	return strings.Join(out, ",")
}

// nextPort is the last port Addrs handed out: below the kernel's range of
// ephemeral ports (32768 up, on Linux), where no outgoing connection of
// the tests takes one between the check and the server's bind, each test
// process starting at its own place.
var nextPort atomic.Int32

// Addrs returns n loopback addresses whose ports were free a moment ago,
// for servers a test starts (a cluster's routes, which each name the
// others' before they listen).
func Addrs(tb testing.TB, n int) []string {
	tb.Helper()
	nextPort.CompareAndSwap(0, int32(10000+os.Getpid()%20000))
	var addrs []string
	for tries := 0; len(addrs) < n; tries++ {
		if tries > 20000 {
			tb.Fatal("natstest: no free port below 32768")
		}
		port := nextPort.Add(1)
		if port >= 32768 {
			nextPort.Store(10000)
			continue
		}
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		addrs = append(addrs, ln.Addr().String())
		ln.Close()
	}
	return addrs
}
