// Package redistest starts real Redis high-availability topologies for
// tests, from Debian's redis-server and redis-sentinel binaries, on free
// loopback ports in a temporary directory: a primary, a replica and three
// sentinels (StartSentinel), or a three-primary Redis Cluster created with
// `redis-cli --cluster create` (StartCluster). Everything is stopped when
// the test ends. scripts/integration/install-redis-ha.sh installs the
// packages.
package redistest

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// MasterName is the sentinel-monitored primary's name.
const MasterName = "nexoprimary"

// server is one redis-server or redis-sentinel process.
type server struct {
	name string
	addr string
	cmd  *exec.Cmd
	done chan struct{}
	log  string
}

func (s *server) running() bool {
	select {
	case <-s.done:
		return false
	default:
		return true
	}
}

// kill stops the process with SIGKILL and waits for it.
func (s *server) kill() {
	if s.running() {
		_ = s.cmd.Process.Signal(syscall.SIGKILL)
		<-s.done
	}
}

func binary(tb testing.TB, name string) string {
	tb.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		tb.Fatalf("%s not found: install Debian's redis-server, redis-sentinel and redis-tools (scripts/integration/install-redis-ha.sh runs apt-get install -y redis-server redis-sentinel redis-tools)", name)
	}
	return p
}

func freePort(tb testing.TB) int {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// start runs bin with a config file written to dir and waits until the
// port answers PING.
func start(tb testing.TB, dir, name, bin string, port int, conf string, extra ...string) *server {
	tb.Helper()
	path := filepath.Join(dir, name+".conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		tb.Fatal(err)
	}
	s := &server{name: name, addr: "127.0.0.1:" + strconv.Itoa(port), done: make(chan struct{}), log: filepath.Join(dir, name+".log")}
	s.cmd = exec.Command(bin, append([]string{path}, extra...)...)
	s.cmd.Dir = dir
	if err := s.cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	go func() { _ = s.cmd.Wait(); close(s.done) }()
	tb.Cleanup(s.kill)
	c := redis.NewClient(&redis.Options{Addr: s.addr, DialTimeout: 200 * time.Millisecond, MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return s
		}
		if !s.running() || time.Now().After(deadline) {
			tb.Fatalf("%s on %s did not start: %v\n%s", name, s.addr, err, readLog(s.log))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func readLog(path string) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.Join(lines[max(0, len(lines)-20):], "\n")
}

func serverConf(dir string, port int, extra string) string {
	return fmt.Sprintf("port %d\nbind 127.0.0.1\nprotected-mode no\nsave \"\"\nappendonly no\ndir %s\nlogfile %s\n%s",
		port, dir, filepath.Join(dir, fmt.Sprintf("redis-%d.log", port)), extra)
}

// Sentinel is a primary, a replica and three sentinels.
type Sentinel struct {
	tb        testing.TB
	mu        sync.Mutex
	nodes     []*server // the two Redis servers
	sentinels []*server
}

// StartSentinel starts the topology and waits until the replica is in
// sync and every sentinel knows the primary, the replica and the two other
// sentinels. Sentinels judge a primary down after 1 s
// (down-after-milliseconds) and need two of three to agree (quorum 2).
func StartSentinel(tb testing.TB) *Sentinel {
	tb.Helper()
	srv, sent := binary(tb, "redis-server"), binary(tb, "redis-sentinel")
	dir := tb.TempDir()
	s := &Sentinel{tb: tb}
	p0, p1 := freePort(tb), freePort(tb)
	s.nodes = append(s.nodes, start(tb, dir, "primary", srv, p0, serverConf(dir, p0, "")))
	s.nodes = append(s.nodes, start(tb, dir, "replica", srv, p1, serverConf(dir, p1, fmt.Sprintf("replicaof 127.0.0.1 %d\n", p0))))
	for i := range 3 {
		port := freePort(tb)
		conf := fmt.Sprintf("port %d\nbind 127.0.0.1\nprotected-mode no\ndir %s\nlogfile %s\n"+
			"sentinel monitor %s 127.0.0.1 %d 2\nsentinel down-after-milliseconds %s 1000\nsentinel failover-timeout %s 10000\nsentinel parallel-syncs %s 1\n",
			port, dir, filepath.Join(dir, fmt.Sprintf("sentinel-%d.log", i)), MasterName, p0, MasterName, MasterName, MasterName)
		s.sentinels = append(s.sentinels, start(tb, dir, fmt.Sprintf("sentinel-%d", i), sent, port, conf))
	}
	s.waitHealthy(30 * time.Second)
	return s
}

// URL is the store.redis_url of the topology.
func (s *Sentinel) URL() string {
	var hosts []string
	for _, x := range s.sentinels {
		hosts = append(hosts, x.addr)
	}
	return "redis+sentinel://" + strings.Join(hosts, ",") + "/" + MasterName + "/0?dial_timeout=500ms&read_timeout=1s&write_timeout=1s"
}

// Primary is the address the sentinels report as primary now.
func (s *Sentinel) Primary() (string, error) {
	var lastErr error
	for _, x := range s.sentinels {
		if !x.running() {
			continue
		}
		c := redis.NewSentinelClient(&redis.Options{Addr: x.addr, DialTimeout: 300 * time.Millisecond, ReadTimeout: time.Second})
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		addr, err := c.GetMasterAddrByName(ctx, MasterName).Result()
		cancel()
		c.Close()
		if err == nil && len(addr) == 2 {
			return net.JoinHostPort(addr[0], addr[1]), nil
		}
		lastErr = err
	}
	return "", fmt.Errorf("no sentinel names a primary: %v", lastErr)
}

func (s *Sentinel) node(addr string) *server {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range s.nodes {
		if n.addr == addr {
			return n
		}
	}
	return nil
}

// InSync reports whether the primary's replication offset is the
// replica's (every acknowledged write is on both).
func (s *Sentinel) InSync() bool {
	addr, err := s.Primary()
	if err != nil {
		return false
	}
	info := infoOf(addr, "replication")
	off := info["master_repl_offset"]
	for k, v := range info {
		if strings.HasPrefix(k, "slave") && strings.Contains(v, "state=online") && strings.Contains(v, "offset="+off+",") {
			return off != ""
		}
	}
	return false
}

// KillPrimary stops the current primary with SIGKILL (no shutdown, no
// last save) and returns its address.
func (s *Sentinel) KillPrimary() string {
	s.tb.Helper()
	addr, err := s.Primary()
	if err != nil {
		s.tb.Fatal(err)
	}
	n := s.node(addr)
	if n == nil {
		s.tb.Fatalf("primary %s is not one of ours", addr)
	}
	n.kill()
	return addr
}

// WaitNewPrimary waits until the sentinels name a running primary other
// than old and that primary accepts writes; it returns its address.
func (s *Sentinel) WaitNewPrimary(old string, within time.Duration) string {
	s.tb.Helper()
	deadline := time.Now().Add(within)
	for {
		addr, err := s.Primary()
		if err == nil && addr != old {
			if n := s.node(addr); n != nil && n.running() && infoOf(addr, "replication")["role"] == "master" {
				return addr
			}
		}
		if time.Now().After(deadline) {
			s.tb.Fatalf("no new primary within %s (last answer %q, %v)", within, addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *Sentinel) waitHealthy(within time.Duration) {
	s.tb.Helper()
	deadline := time.Now().Add(within)
	for {
		ok := s.InSync()
		for _, x := range s.sentinels {
			info := infoOf(x.addr, "sentinel")
			m := info["master0"]
			ok = ok && strings.Contains(m, "status=ok") && strings.Contains(m, "slaves=1") && strings.Contains(m, "sentinels=3")
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			s.tb.Fatalf("the sentinel topology did not settle within %s", within)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// infoOf reads INFO section of addr as key → value.
func infoOf(addr, section string) map[string]string {
	c := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: 300 * time.Millisecond, ReadTimeout: time.Second, MaxRetries: -1})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	raw, err := c.Info(ctx, section).Result()
	out := map[string]string{}
	if err != nil {
		return out
	}
	sc := bufio.NewScanner(strings.NewReader(raw))
	for sc.Scan() {
		if k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), ":"); ok {
			out[k] = v
		}
	}
	return out
}

// Cluster is a three-primary Redis Cluster.
type Cluster struct {
	nodes []*server
}

// StartCluster starts three `redis-server --cluster-enabled yes` nodes,
// joins them with `redis-cli --cluster create … --cluster-yes` (slots
// split in three) and waits for cluster_state:ok on every node.
func StartCluster(tb testing.TB) *Cluster {
	tb.Helper()
	srv, cli := binary(tb, "redis-server"), binary(tb, "redis-cli")
	dir := tb.TempDir()
	c := &Cluster{}
	var addrs []string
	for i := range 3 {
		port := freePort(tb)
		conf := serverConf(dir, port, fmt.Sprintf("cluster-enabled yes\ncluster-config-file nodes-%d.conf\ncluster-node-timeout 5000\n", port))
		n := start(tb, dir, fmt.Sprintf("node-%d", i), srv, port, conf)
		c.nodes = append(c.nodes, n)
		addrs = append(addrs, n.addr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, cli, append(append([]string{"--cluster", "create"}, addrs...), "--cluster-replicas", "0", "--cluster-yes")...).CombinedOutput()
	if err != nil {
		tb.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		ok := true
		for _, a := range addrs {
			ok = ok && infoCluster(a)["cluster_state"] == "ok"
		}
		if ok {
			return c
		}
		if time.Now().After(deadline) {
			tb.Fatalf("the cluster did not reach cluster_state:ok within 30s")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// URL is the store.redis_url of the cluster.
func (c *Cluster) URL() string {
	var hosts []string
	for _, n := range c.nodes {
		hosts = append(hosts, n.addr)
	}
	return "redis+cluster://" + strings.Join(hosts, ",") + "?dial_timeout=500ms"
}

// Addrs are the nodes' addresses.
func (c *Cluster) Addrs() []string {
	var out []string
	for _, n := range c.nodes {
		out = append(out, n.addr)
	}
	return out
}

func infoCluster(addr string) map[string]string {
	c := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: 300 * time.Millisecond, MaxRetries: -1})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	raw, err := c.ClusterInfo(ctx).Result()
	out := map[string]string{}
	if err != nil {
		return out
	}
	for _, l := range strings.Split(raw, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(l), ":"); ok {
			out[k] = v
		}
	}
	return out
}
