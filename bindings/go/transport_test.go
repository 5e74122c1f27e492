package tokenforge_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	tokenforge "github.com/tokenforge/tokenforge/bindings/go"
)

// apiServer answers 401 to requests bearing a rejected token and 200 (echoing the body) to
// the others; it records the Authorization headers it saw.
type apiServer struct {
	mu       sync.Mutex
	rejected map[string]bool
	seen     []string
}

func (a *apiServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	auth := r.Header.Get("Authorization")
	body, _ := io.ReadAll(r.Body)
	a.mu.Lock()
	a.seen = append(a.seen, auth)
	bad := a.rejected[auth]
	a.mu.Unlock()
	if bad {
		http.Error(w, "token revoked", http.StatusUnauthorized)
		return
	}
	fmt.Fprintf(w, "%s|%s", auth, body)
}

func (a *apiServer) reject(auth string) {
	a.mu.Lock()
	a.rejected[auth] = true
	a.mu.Unlock()
}

func (a *apiServer) requests() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.seen)
}

// opaqueReader is a body http.NewRequest cannot replay (it sets no GetBody for it).
type opaqueReader struct{ io.Reader }

func TestTransport(t *testing.T) {
	key := unique("api")
	p := mustPipeline(t, fmt.Sprintf(`{"steps":[{"name":"api","kind":"body","base_url":%q,"endpoint":"/switch/%s"}]}`, baseURL, key))
	api := &apiServer{rejected: map[string]bool{}}
	srv := httptest.NewServer(api) // listens on 127.0.0.1
	defer srv.Close()
	client := &http.Client{Transport: &tokenforge.Transport{Pipeline: p, Step: "api"}}
	fetches := func() int { return serverCount(t, "/switch/"+key) }

	do := func(req *http.Request) (int, string) {
		t.Helper()
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("request: %v", err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	post := func(body string) *http.Request {
		req, err := http.NewRequest("POST", srv.URL+"/things", bytes.NewReader([]byte(body)))
		if err != nil {
			t.Fatal(err)
		}
		return req
	}

	// The first token is accepted.
	req, _ := http.NewRequest("GET", srv.URL+"/things", nil)
	status, body := do(req)
	first := "Bearer " + key + "-"
	if status != 200 || !strings.HasPrefix(body, first) || fetches() != 1 {
		t.Fatalf("first request: %d %q (%d fetches)", status, body, fetches())
	}
	token1 := strings.TrimSuffix(body, "|")

	// The API revokes it: the transport drops it, fetches one new token and replays the body.
	api.reject(token1)
	n := api.requests()
	status, body = do(post("payload"))
	if status != 200 || !strings.HasSuffix(body, "|payload") || strings.HasPrefix(body, token1+"|") {
		t.Errorf("after a 401: %d %q", status, body)
	}
	if f := fetches(); f != 2 {
		t.Errorf("upstream fetches = %d, want 2 (exactly one refetch)", f)
	}
	if got := api.requests() - n; got != 2 {
		t.Errorf("API requests = %d, want 2 (the 401 and the retry)", got)
	}
	token2 := strings.TrimSuffix(body, "|payload")

	// Many requests failing at once with the same token cause one refetch.
	api.reject(token2)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			req, _ := http.NewRequest("PUT", srv.URL+"/things", strings.NewReader(fmt.Sprint(i)))
			resp, err := client.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || !strings.HasSuffix(string(b), fmt.Sprintf("|%d", i)) {
				t.Errorf("concurrent request %d: %d %q", i, resp.StatusCode, b)
			}
		}(i)
	}
	wg.Wait()
	if f := fetches(); f != 3 {
		t.Errorf("upstream fetches after concurrent 401s = %d, want 3", f)
	}

	// A body that cannot be replayed: the 401 is returned as it is, with no refetch.
	status, body = do(post("x")) // learn the current token
	api.reject(strings.TrimSuffix(body, "|x"))
	req, _ = http.NewRequest("POST", srv.URL+"/things", opaqueReader{strings.NewReader("once")})
	if req.GetBody != nil {
		t.Fatal("the opaque body is replayable")
	}
	status, _ = do(req)
	if status != http.StatusUnauthorized || fetches() != 3 {
		t.Errorf("unreplayable body: status %d, %d fetches", status, fetches())
	}

	// A step that cannot give a token fails the request with its *tokenforge.Error.
	bad := &http.Client{Transport: &tokenforge.Transport{Pipeline: p, Step: "nope"}}
	_, err := bad.Get(srv.URL)
	if e := asError(t, err); e.Code != tokenforge.CodeInvalidArgument {
		t.Errorf("unknown step: %+v", e)
	}
	_, err = (&http.Client{Transport: &tokenforge.Transport{Step: "api"}}).Get(srv.URL)
	if err == nil || errors.As(err, new(*tokenforge.Error)) {
		t.Errorf("nil pipeline: %v", err)
	}
}
