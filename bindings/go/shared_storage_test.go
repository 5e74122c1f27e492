package tokenforge_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	tokenforge "github.com/tokenforge/tokenforge/bindings/go"
)

// fleetEnv carries a pipeline's JSON to a child process (TestFleetChild).
const fleetEnv = "TOKENFORGE_FLEET_CHILD_JSON"

// TestFleetChild is the body of the child processes the shared-store tests start: it gets
// step "t" from the pipeline in $TOKENFORGE_FLEET_CHILD_JSON and prints the token. Run
// directly (without that variable) it has nothing to do.
func TestFleetChild(t *testing.T) {
	config := os.Getenv(fleetEnv)
	if config == "" {
		return
	}
	p, err := tokenforge.PipelineFromJSON(config)
	if err != nil {
		fmt.Printf("TOKEN=error %v\n", err)
		return
	}
	defer p.Close()
	tok, err := p.Token(context.Background(), "t")
	if err != nil {
		fmt.Printf("TOKEN=error %v\n", err)
		return
	}
	fmt.Printf("TOKEN=%s\n", tok.AccessToken())
}

// childTokens runs n processes of this test binary at once on the pipeline config, and
// returns the token each printed.
func childTokens(t *testing.T, n int, config string) []string {
	t.Helper()
	var wg sync.WaitGroup
	tokens := make([]string, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			cmd := exec.Command(os.Args[0], "-test.run=^TestFleetChild$", "-test.count=1")
			cmd.Env = append(os.Environ(), fleetEnv+"="+config)
			out, err := cmd.Output()
			if err != nil {
				tokens[i] = "error " + err.Error()
				return
			}
			for _, line := range strings.Split(string(out), "\n") {
				if v, ok := strings.CutPrefix(line, "TOKEN="); ok {
					tokens[i] = v
				}
			}
		}(i)
	}
	wg.Wait()
	return tokens
}

func sharedConfig(storage, endpoint string) string {
	return fmt.Sprintf(`{"background_refresh":false,"storage":%s,"steps":[{"name":"t","kind":"body","base_url":%q,"endpoint":%q}]}`,
		storage, baseURL, endpoint)
}

func expectOneFetchForAll(t *testing.T, config, endpoint string) {
	t.Helper()
	before := serverCount(t, endpoint)
	tokens := childTokens(t, 6, config)
	for _, tok := range tokens {
		if tok != tokens[0] || !strings.HasPrefix(tok, "slow-") {
			t.Fatalf("tokens %v: not all the same", tokens)
		}
	}
	if got := serverCount(t, endpoint) - before; got != 1 {
		t.Errorf("%d upstream requests for 6 processes, want 1", got)
	}
	later := childTokens(t, 1, config)
	if later[0] != tokens[0] || serverCount(t, endpoint)-before != 1 {
		t.Errorf("a later process got %q (want %q) with %d requests", later[0], tokens[0], serverCount(t, endpoint)-before)
	}
}

// Processes on one file store make one upstream request in all.
func TestFileStorageSharedByProcesses(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store") // the library creates it, private
	endpoint := "/slow/250"
	expectOneFetchForAll(t, sharedConfig(fmt.Sprintf(`{"kind":"file","dir":%q}`, dir), endpoint), endpoint)

	s, err := tokenforge.NewFileStorage(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if tok, err := s.Retrieve("tokenforge:t"); err != nil || tok == nil {
		t.Errorf("the token is in the store: %v, %v", tok, err)
	}
	open := filepath.Join(t.TempDir(), "open")
	if err := os.Mkdir(open, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o755); err != nil {
		t.Fatal(err)
	}
	_, err = tokenforge.NewFileStorage(open)
	if e := asError(t, err); e.Code != tokenforge.CodeStorage || !strings.Contains(e.Message, "0755") {
		t.Errorf("a directory others may enter: %+v", e)
	}
}

// startRedis runs a real redis-server on a free loopback port until the test ends.
func startRedis(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatal("redis-server is not installed: `make test` installs the Debian package redis-server")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command(bin, "--port", fmt.Sprint(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	for end := time.Now().Add(10 * time.Second); ; {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			c.Close()
			break
		}
		if time.Now().After(end) {
			t.Fatal("redis-server did not start")
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Sprintf("redis://127.0.0.1:%d/0", port)
}

// Processes on one Redis make one upstream request in all; a bad URL is refused and a
// password never shows in messages.
func TestRedisStorageSharedByProcesses(t *testing.T) {
	url := startRedis(t)
	endpoint := "/slow/260"
	expectOneFetchForAll(t, sharedConfig(fmt.Sprintf(`{"kind":"redis","url":%q}`, url), endpoint), endpoint)

	if _, err := tokenforge.NewRedisStorage("http://127.0.0.1:1"); asError(t, err).Code != tokenforge.CodeInvalidArgument {
		t.Errorf("bad URL: %v", err)
	}
	s, err := tokenforge.NewRedisStorage("redis://u:go-pw-secret@127.0.0.1:1/0")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = s.Retrieve("k")
	if e := asError(t, err); e.Code != tokenforge.CodeStorage || strings.Contains(e.Message, "go-pw-secret") {
		t.Errorf("unreachable Redis: %+v", e)
	}
}
