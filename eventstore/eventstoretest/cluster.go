package eventstoretest

import (
	"fmt"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Cluster is three JetStream servers in this process, routed to each
// other as one cluster: the production shape (docker-compose.yml's cluster
// profile) for tests of what an election does to a Store.
type Cluster struct {
	Servers []*server.Server
	// URL lists the three servers' client URLs, comma-separated, as
	// eventstore.Options.URL takes them.
	URL string
}

// StartCluster starts three routed JetStream servers, each on free ports
// and a temporary store directory, waits until the cluster has a meta
// leader that counts all three as peers to place streams on, and shuts
// them down when the test ends.
func StartCluster(tb testing.TB) *Cluster {
	tb.Helper()
	ports := make([]int, 3)
	routes := make([]*url.URL, 3)
	for i := range ports {
		ports[i] = freePort(tb)
		routes[i] = &url.URL{Scheme: "nats", Host: fmt.Sprintf("127.0.0.1:%d", ports[i])}
	}
	c := &Cluster{}
	var urls []string
	for i := range 3 {
		o := &server.Options{
			ServerName: fmt.Sprintf("n%d", i+1), Host: "127.0.0.1", Port: -1,
			JetStream: true, StoreDir: tb.TempDir(), NoLog: true, NoSigs: true,
			Cluster: server.ClusterOpts{Name: "c1", Host: "127.0.0.1", Port: ports[i]},
			Routes:  routes,
		}
		s, err := server.NewServer(o)
		if err != nil {
			tb.Fatal(err)
		}
		go s.Start()
		tb.Cleanup(s.Shutdown)
		c.Servers = append(c.Servers, s)
	}
	for _, s := range c.Servers {
		if !s.ReadyForConnections(10 * time.Second) {
			tb.Fatal("eventstoretest: cluster node not ready")
		}
		urls = append(urls, s.ClientURL())
	}
	c.URL = strings.Join(urls, ",")
	deadline := time.Now().Add(20 * time.Second)
	for !c.ready() {
		if time.Now().After(deadline) {
			tb.Fatal("eventstoretest: the cluster elected no JetStream meta leader seeing its 3 peers in 20s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	return c
}

// ready: a meta leader is elected and has every server's JetStream
// stats. A leader alone is not enough: until the others' stats reach it, a
// stream of 3 replicas is refused ("no suitable peers for placement"),
// which a loaded machine hit when the first store opened.
func (c *Cluster) ready() bool {
	for _, s := range c.Servers {
		if s.JetStreamIsLeader() {
			return len(s.JetStreamClusterPeers()) == len(c.Servers)
		}
	}
	return false
}

// Server is the running server named name ("n1".."n3"), or nil.
func (c *Cluster) Server(name string) *server.Server {
	for _, s := range c.Servers {
		if s.Name() == name && s.Running() {
			return s
		}
	}
	return nil
}

func freePort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
