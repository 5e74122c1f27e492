package tokenforge_test

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	tokenforge "github.com/tokenforge/tokenforge/bindings/go"
)

// baseURL is the loopback token server that TestMain starts; tlsURL is its HTTPS twin, whose
// certificate the test CA in caFile issued.
var baseURL, tlsURL, caFile string

// configureServer adjusts the test server's command before it starts (see
// server_linux_test.go).
var configureServer = func(*exec.Cmd) {}

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	bin := os.Getenv("TOKENFORGE_TESTSERVER")
	if bin == "" {
		bin = filepath.Join("..", "..", "target", "release", "tokenforge-testserver")
	}
	// Everything stays on the loopback interface.
	for _, v := range []string{"HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"} {
		os.Unsetenv(v)
	}
	dir, err := os.MkdirTemp("", "tokenforge-go-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, "temp dir:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	portFile := filepath.Join(dir, "port")
	tlsDir := filepath.Join(dir, "tls")
	if err := os.Mkdir(tlsDir, 0o700); err != nil {
		fmt.Fprintln(os.Stderr, "temp dir:", err)
		return 1
	}
	cmd := exec.Command(bin, "--port-file", portFile, "--tls-dir", tlsDir, "--max-seconds", "600")
	cmd.Stdout = io.Discard
	cmd.Stderr = os.Stderr
	configureServer(cmd)
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "cannot start the test server %s (set TOKENFORGE_TESTSERVER): %v\n", bin, err)
		return 1
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	deadline := time.Now().Add(15 * time.Second)
	for {
		b, err := os.ReadFile(portFile)
		t, terr := os.ReadFile(filepath.Join(tlsDir, "port"))
		if err == nil && terr == nil && len(strings.TrimSpace(string(b))) > 0 && len(strings.TrimSpace(string(t))) > 0 {
			baseURL = "http://127.0.0.1:" + strings.TrimSpace(string(b))
			tlsURL = "https://127.0.0.1:" + strings.TrimSpace(string(t))
			caFile = filepath.Join(tlsDir, "ca.pem")
			break
		}
		if time.Now().After(deadline) {
			fmt.Fprintln(os.Stderr, "the test server did not write its port file")
			return 1
		}
		time.Sleep(20 * time.Millisecond)
	}
	return m.Run()
}

// serverCount is how many requests the server has had on path.
func serverCount(t *testing.T, path string) int {
	t.Helper()
	f, err := tokenforge.NewBodyFetcher(tokenforge.BodyOptions{Name: "count", BaseURL: baseURL, Endpoint: "/_count" + path})
	if err != nil {
		t.Fatalf("count fetcher: %v", err)
	}
	defer f.Close()
	tok, err := f.Fetch(nil)
	if err != nil {
		t.Fatalf("count %s: %v", path, err)
	}
	defer tok.Close()
	v, _ := tok.Extra("count")
	n, err := strconv.Atoi(v)
	if err != nil {
		t.Fatalf("count %s: %q", path, v)
	}
	return n
}

var uniq atomic.Int64

// unique returns a name no other test uses.
func unique(prefix string) string {
	return fmt.Sprintf("%s%d", prefix, uniq.Add(1))
}

// okFetcher returns a function that fails the test on err and closes f when the test ends:
// okFetcher(t)(tokenforge.NewBodyFetcher(...)).
func okFetcher(t *testing.T) func(*tokenforge.Fetcher, error) *tokenforge.Fetcher {
	return func(f *tokenforge.Fetcher, err error) *tokenforge.Fetcher {
		t.Helper()
		if err != nil {
			t.Fatalf("fetcher: %v", err)
		}
		t.Cleanup(f.Close)
		return f
	}
}

// okToken returns a function that fails the test on err and closes tok when the test ends.
func okToken(t *testing.T) func(*tokenforge.Token, error) *tokenforge.Token {
	return func(tok *tokenforge.Token, err error) *tokenforge.Token {
		t.Helper()
		if err != nil {
			t.Fatalf("token: %v", err)
		}
		if tok == nil {
			t.Fatal("token: nil without error")
		}
		t.Cleanup(tok.Close)
		return tok
	}
}

// asError extracts the *tokenforge.Error of err, failing the test when there is none.
func asError(t *testing.T, err error) *tokenforge.Error {
	t.Helper()
	var e *tokenforge.Error
	if !errors.As(err, &e) {
		t.Fatalf("want a *tokenforge.Error, got %T %v", err, err)
	}
	return e
}

// extra returns a field of the token, failing the test when it is absent.
func extra(t *testing.T, tok *tokenforge.Token, field string) string {
	t.Helper()
	v, ok := tok.Extra(field)
	if !ok {
		t.Fatalf("token has no field %q", field)
	}
	return v
}

// eventually polls cond for up to 5 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	poll(t, what, false, cond)
}

// eventuallyGC polls cond for up to 5 s, collecting garbage (running finalizers) in between.
func eventuallyGC(t *testing.T, what string, cond func() bool) {
	t.Helper()
	poll(t, what, true, cond)
}

func poll(t *testing.T, what string, gc bool, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		if gc {
			runtime.GC()
		}
		time.Sleep(10 * time.Millisecond)
	}
}
