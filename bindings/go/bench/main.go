// Command bench measures the tokenforge Go binding side by side with golang.org/x/oauth2 in
// one run, against the same nginx token endpoint on loopback, and prints each figure with
// its ratio to the peer's. It asserts nothing: the targets are in README.md ("Speed").
//
// Run it with `make bench` (which installs nginx when missing), or `go run .` here after
// `cargo build --release` at the top of the repository. Flags: -rounds (interleaved rounds;
// the medians are printed) and -benchtime (per benchmark and round).
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	tokenforge "github.com/tokenforge/tokenforge/bindings/go"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// body is the token response nginx gives: the one benches/fetch.rs uses.
const body = `{"access_token":"eyJhbGciOiJSUzI1NiJ9.a-token-of-typical-length-for-a-jwt-0123456789abcdef","token_type":"Bearer","expires_in":3600}`

func main() {
	testing.Init()
	rounds := flag.Int("rounds", 5, "interleaved rounds; medians are printed")
	benchtime := flag.Duration("benchtime", 300*time.Millisecond, "time per benchmark and round")
	flag.Parse()
	if err := flag.Set("test.benchtime", benchtime.String()); err != nil {
		fail("benchtime: %v", err)
	}
	for _, v := range []string{"HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"} {
		os.Unsetenv(v)
	}

	port, stop := startNginx()
	defer stop()
	tokenURL := fmt.Sprintf("http://127.0.0.1:%d/token", port)

	// tokenforge: a pipeline of one client-credentials step, and the same fetcher alone.
	p, err := tokenforge.PipelineFromJSON(fmt.Sprintf(`{"steps":[{"name":"app","kind":"client_credentials",
	  "token_url":%q,"client_id":"bench","client_secret":"secret"}]}`, tokenURL))
	check(err)
	defer p.Close()
	fetcher, err := tokenforge.NewClientCredentialsFetcher(tokenforge.ClientCredentialsOptions{
		Name: "app", TokenURL: tokenURL, ClientID: "bench", ClientSecret: "secret"})
	check(err)
	defer fetcher.Close()
	_, err = p.Token(context.Background(), "app")
	check(err)

	// x/oauth2: the same grant; TokenSource is a ReuseTokenSource around it.
	cc := &clientcredentials.Config{ClientID: "bench", ClientSecret: "secret", TokenURL: tokenURL,
		AuthStyle: oauth2.AuthStyleInHeader}
	src := cc.TokenSource(context.Background())
	_, err = src.Token()
	check(err)

	cancellable, cancel := context.WithCancel(context.Background())
	defer cancel()
	noop := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: 200, Body: http.NoBody, Request: r}, nil
	})
	req, _ := http.NewRequest("GET", "http://api.example/v1/things", nil)
	req.Header.Set("Accept", "application/json")
	tfTransport := &tokenforge.Transport{Pipeline: p, Step: "app", Base: noop}
	oaTransport := &oauth2.Transport{Source: src, Base: noop}
	raw := dialRaw(port)
	defer raw.Close()

	type pair struct {
		what     string
		tf, peer func(b *testing.B)
		peerName string
	}
	token := func(ctx context.Context) func(b *testing.B) {
		return func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if _, err := p.Token(ctx, "app"); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	reuse := func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := src.Token(); err != nil {
				b.Fatal(err)
			}
		}
	}
	parallel := func(f func() error) func(b *testing.B) {
		return func(b *testing.B) {
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := f(); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
	}
	roundTrip := func(rt http.RoundTripper) func(b *testing.B) {
		return func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if _, err := rt.RoundTrip(req); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	pairs := []pair{
		{"cached token, context.Background()", token(context.Background()), reuse, "ReuseTokenSource.Token"},
		{"cached token, a cancellable context", token(cancellable), reuse, "ReuseTokenSource.Token"},
		{fmt.Sprintf("cached token, %d goroutines, cancellable", runtime.GOMAXPROCS(0)),
			parallel(func() error { _, err := p.Token(cancellable, "app"); return err }),
			parallel(func() error { _, err := src.Token(); return err }), "ReuseTokenSource.Token"},
		{"Transport.RoundTrip over a no-op base", roundTrip(tfTransport), roundTrip(oaTransport), "oauth2.Transport"},
		{"one fetch from nginx (kept-alive)", func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if _, err := fetcher.Fetch(nil); err != nil {
					b.Fatal(err)
				}
			}
		}, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if _, err := cc.Token(context.Background()); err != nil {
					b.Fatal(err)
				}
			}
		}, "clientcredentials.Config.Token"},
	}
	rawFetch := func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			raw.post()
		}
	}

	type figures struct{ ns, allocs []float64 }
	tf := make([]figures, len(pairs))
	peer := make([]figures, len(pairs))
	var rawNs []float64
	add := func(f *figures, r testing.BenchmarkResult) {
		f.ns = append(f.ns, float64(r.T.Nanoseconds())/float64(r.N))
		f.allocs = append(f.allocs, float64(r.AllocsPerOp()))
	}
	bench := func(f func(b *testing.B)) testing.BenchmarkResult {
		return testing.Benchmark(func(b *testing.B) { b.ReportAllocs(); f(b) })
	}
	for r := 0; r < *rounds; r++ {
		for i, c := range pairs {
			// The two in either order, so neither always runs first in a round.
			if r%2 == 0 {
				add(&tf[i], bench(c.tf))
				add(&peer[i], bench(c.peer))
			} else {
				add(&peer[i], bench(c.peer))
				add(&tf[i], bench(c.tf))
			}
		}
		res := bench(rawFetch)
		rawNs = append(rawNs, float64(res.T.Nanoseconds())/float64(res.N))
	}

	fmt.Printf("tokenforge Go binding beside golang.org/x/oauth2, one process, nginx on loopback (%s, GOMAXPROCS %d)\n",
		runtime.Version(), runtime.GOMAXPROCS(0))
	fmt.Printf("medians of %d interleaved rounds of %v per benchmark; ratio = tokenforge / x/oauth2\n\n", *rounds, *benchtime)
	fmt.Printf("%-44s %14s %14s %7s   %s\n", "path", "x/oauth2", "tokenforge", "ratio", "peer")
	for i, c := range pairs {
		a, b := median(peer[i].ns), median(tf[i].ns)
		fmt.Printf("%-44s %14s %14s %7.2f   %s\n", c.what,
			figure(a, median(peer[i].allocs)), figure(b, median(tf[i].allocs)), b/a, c.peerName)
	}
	last := len(pairs) - 1
	fmt.Println("(the parallel line is wall time per Token over all goroutines; allocations are per call)")
	fmt.Printf("the same POST on a kept-alive Go socket (one write, one read, through Go's netpoller): %s;\n"+
		"  tokenforge fetch / Go socket %.2f, x/oauth2 / Go socket %.2f (benches/fetch.rs compares with a blocking socket)\n",
		duration(median(rawNs)), median(tf[last].ns)/median(rawNs), median(peer[last].ns)/median(rawNs))
}

// figure formats ns/op and allocs/op.
func figure(ns, allocs float64) string {
	return fmt.Sprintf("%s %2.0fa", duration(ns), allocs)
}

func duration(ns float64) string {
	if ns >= 10000 {
		return fmt.Sprintf("%.1f µs", ns/1000)
	}
	return fmt.Sprintf("%.1f ns", ns)
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// startNginx starts nginx on a free loopback port with the token endpoint; stop stops it.
func startNginx() (port int, stop func()) {
	bin, err := exec.LookPath("nginx")
	if err != nil {
		bin = "/usr/sbin/nginx"
	}
	dir, err := os.MkdirTemp("", "tokenforge-go-bench")
	check(err)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	check(err)
	port = l.Addr().(*net.TCPAddr).Port
	l.Close()
	conf := fmt.Sprintf(`worker_processes 1;
error_log %[1]s/error.log;
pid %[1]s/nginx.pid;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path %[1]s/body;
  keepalive_requests 100000000;
  keepalive_timeout 600s;
  server {
    listen 127.0.0.1:%[2]d;
    location = /token { default_type application/json; return 200 '%[3]s'; }
  }
}
`, dir, port, body)
	check(os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(conf), 0o600))
	cmd := exec.Command(bin, "-e", "stderr", "-p", dir, "-c", filepath.Join(dir, "nginx.conf"), "-g", "daemon off;")
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		fail("cannot start nginx (`make bench` installs the Debian package nginx): %v", err)
	}
	stop = func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		os.RemoveAll(dir)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			c.Close()
			return port, stop
		}
		if time.Now().After(deadline) {
			stop()
			fail("nginx did not start")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// rawConn is a kept-alive connection that sends a prepared POST and reads the answer.
type rawConn struct {
	net.Conn
	r       *bufio.Reader
	request []byte
}

func dialRaw(port int) *rawConn {
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	check(err)
	form := "grant_type=client_credentials"
	req := fmt.Sprintf("POST /token HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAuthorization: Basic YmVuY2g6c2VjcmV0\r\n"+
		"Content-Type: application/x-www-form-urlencoded\r\nAccept: application/json\r\nContent-Length: %d\r\n\r\n%s",
		port, len(form), form)
	return &rawConn{Conn: c, r: bufio.NewReaderSize(c, 4096), request: []byte(req)}
}

func (c *rawConn) post() {
	_, err := c.Write(c.request)
	check(err)
	length := -1
	for {
		line, err := c.r.ReadSlice('\n')
		check(err)
		s := strings.TrimRight(string(line), "\r\n")
		if s == "" {
			break
		}
		if k, v, ok := strings.Cut(s, ":"); ok && strings.EqualFold(k, "content-length") {
			length, err = strconv.Atoi(strings.TrimSpace(v))
			check(err)
		}
	}
	if length != len(body) {
		fail("raw socket: content length %d, want %d", length, len(body))
	}
	_, err = io.CopyN(io.Discard, c.r, int64(length))
	check(err)
}

func check(err error) {
	if err != nil {
		fail("%v", err)
	}
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
	os.Exit(1)
}
