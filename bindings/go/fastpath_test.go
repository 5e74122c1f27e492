package tokenforge_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	tokenforge "github.com/tokenforge/tokenforge/bindings/go"
)

// appPipeline has one client-credentials step, "app".
func appPipeline(t *testing.T) *tokenforge.Pipeline {
	return mustPipeline(t, fmt.Sprintf(`{"steps":[
	  {"name":"app","kind":"client_credentials","token_url":"%s/oauth/token","client_id":"c","client_secret":"c-secret"}]}`, baseURL))
}

// A fresh token is handed out again from the Go side: the same Token, no allocation, with a
// background context and with a cancellable one.
func TestTokenCachedHandsOutTheSameTokenWithoutAllocating(t *testing.T) {
	p := appPipeline(t)
	first := okToken(t)(p.Token(context.Background(), "app"))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for _, c := range []struct {
		name string
		ctx  context.Context
	}{{"Background", context.Background()}, {"WithCancel", ctx}, {"nil", nil}} {
		var got *tokenforge.Token
		var err error
		allocs := testing.AllocsPerRun(1000, func() { got, err = p.Token(c.ctx, "app") })
		if err != nil || got != first {
			t.Fatalf("%s: Token = %p, %v; want the first token %p", c.name, got, err, first)
		}
		if allocs != 0 && !raceEnabled {
			t.Errorf("%s: %.1f allocations per cached Token, want 0", c.name, allocs)
		}
	}
	if got := first.AccessToken(); got == "" || first.Authorization() != "Bearer "+got {
		t.Errorf("shared token accessors: %q %q", got, first.Authorization())
	}
}

// Close does nothing on a shared token: the next caller still gets it, whole.
func TestSharedTokenCloseIsANoOp(t *testing.T) {
	p := appPipeline(t)
	tok := okToken(t)(p.Token(context.Background(), "app"))
	access := tok.AccessToken()
	tok.Close()
	tok.Close()
	if tok.AccessToken() != access || tok.ExpiresAt().IsZero() {
		t.Errorf("a closed shared token lost its value: %q", tok.AccessToken())
	}
	again := okToken(t)(p.Token(context.Background(), "app"))
	if again.AccessToken() != access {
		t.Errorf("after Close the pipeline gave %q, want the cached %q", again.AccessToken(), access)
	}
}

// Invalidate and InvalidateIf change the step's counter: the Go side sees it at
// the next Token.
func TestTokenCachedSeesEveryChange(t *testing.T) {
	p := appPipeline(t)
	a := okToken(t)(p.Token(context.Background(), "app")).AccessToken()
	if err := p.Invalidate("app"); err != nil {
		t.Fatal(err)
	}
	b := okToken(t)(p.Token(context.Background(), "app")).AccessToken()
	if b == a {
		t.Fatalf("after Invalidate Token still gave %q", a)
	}
	if ok, err := p.InvalidateIf("app", b); !ok || err != nil {
		t.Fatalf("InvalidateIf = %v, %v", ok, err)
	}
	c := okToken(t)(p.Token(context.Background(), "app")).AccessToken()
	if c == b {
		t.Fatalf("after InvalidateIf Token still gave %q", b)
	}
}

// A token stops being handed out from the Go side when it stops being fresh: an expired
// token is never returned.
func TestTokenCachedStopsWhenTheTokenIsNoLongerFresh(t *testing.T) {
	p := mustPipeline(t, fmt.Sprintf(`{"default_lifetime_ms":600,"refresh_margin_ms":200,"steps":[
	  {"name":"h","kind":"header","base_url":%q,"endpoint":"/header-token","token_header":"X-Auth-Token"}]}`, baseURL))
	first := okToken(t)(p.Token(context.Background(), "h"))
	if again := okToken(t)(p.Token(context.Background(), "h")); again != first {
		t.Fatalf("a fresh token was not handed out again")
	}
	time.Sleep(700 * time.Millisecond) // past its expiry
	next := okToken(t)(p.Token(context.Background(), "h"))
	if next.AccessToken() == first.AccessToken() {
		t.Fatalf("Token returned the expired token %q", first.AccessToken())
	}
}

// A cached token is not handed to a caller whose context is already done, and a caller that
// has to wait for a fetch can still give up (see also TestPipelineTokenCancel).
func TestTokenCachedHonoursAContextThatIsDone(t *testing.T) {
	p := appPipeline(t)
	okToken(t)(p.Token(context.Background(), "app"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if tok, err := p.Token(ctx, "app"); tok != nil || !errors.Is(err, context.Canceled) {
		t.Errorf("Token with a cancelled context = %v, %v", tok, err)
	}
}

// Cache hits served from the Go side reach the event hook like the library's own.
func TestTokenCachedReportsCacheHits(t *testing.T) {
	p := appPipeline(t)
	var log eventLog
	if err := p.OnEvent(log.hook); err != nil {
		t.Fatal(err)
	}
	okToken(t)(p.Token(context.Background(), "app"))
	before := log.count(tokenforge.EventCacheHit)
	for i := 0; i < 5; i++ {
		okToken(t)(p.Token(context.Background(), "app"))
	}
	if n := log.count(tokenforge.EventCacheHit) - before; n != 5 {
		t.Errorf("%d cache hit events for 5 cached gets", n)
	}
	if ev, ok := log.find(tokenforge.EventCacheHit); !ok || ev.Step != "app" || ev.ExpiresAt.IsZero() {
		t.Errorf("cache hit event: %+v", ev)
	}
}

// Goroutines share one pipeline while another invalidates: every Token is a valid token of
// the step, and after the last invalidation every caller moves to the new one.
func TestTokenCachedUnderConcurrentInvalidation(t *testing.T) {
	p := appPipeline(t)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				tok, err := p.Token(context.Background(), "app")
				if err != nil || tok.AccessToken() == "" {
					errs <- fmt.Errorf("Token: %v", err)
					return
				}
			}
		}()
	}
	for i := 0; i < 20; i++ {
		if err := p.Invalidate("app"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	last := okToken(t)(p.Token(context.Background(), "app")).AccessToken()
	if err := p.Invalidate("app"); err != nil {
		t.Fatal(err)
	}
	if got := okToken(t)(p.Token(context.Background(), "app")).AccessToken(); got == last {
		t.Errorf("after the last invalidation Token still gave %q", last)
	}
}

// Transport adds the cached token without allocating more than the request clone.
func TestTransportCachedAllocations(t *testing.T) {
	p := appPipeline(t)
	okToken(t)(p.Token(context.Background(), "app"))
	var seen string
	tr := &tokenforge.Transport{Pipeline: p, Step: "app", Base: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		seen = r.Header.Get("Authorization")
		return &http.Response{StatusCode: 200, Body: http.NoBody, Request: r}, nil
	})}
	req := httptest.NewRequest("GET", "http://api.example/", nil)
	allocs := testing.AllocsPerRun(200, func() {
		if _, err := tr.RoundTrip(req); err != nil {
			t.Fatal(err)
		}
	})
	if seen == "" || req.Header.Get("Authorization") != "" {
		t.Fatalf("Authorization %q on the clone, %q on the original", seen, req.Header.Get("Authorization"))
	}
	// A shallow copy of the request, its header map (two) and the Authorization value, as
	// oauth2.Transport makes; and the Response of the base above.
	if allocs > 5 && !raceEnabled {
		t.Errorf("%.1f allocations per RoundTrip with a cached token, want at most 5", allocs)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// Steps added and removed while goroutines get others; a removed step's fast slot is gone.
func TestAddLiveAndRemoveWhileServing(t *testing.T) {
	p := appPipeline(t)
	okToken(t)(p.Token(context.Background(), "app"))
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := p.Token(context.Background(), "app"); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for i := 0; i < 20; i++ {
		name := fmt.Sprintf("tenant%d", i)
		value := fmt.Sprintf("v%d", i)
		f, err := tokenforge.NewCustomFetcher(tokenforge.CustomOptions{Name: name, DependsOn: []string{"app"},
			Fetch: func(*tokenforge.Context) (*tokenforge.Token, error) {
				return tokenforge.NewToken(value, "", time.Now().Add(time.Hour), "")
			}})
		if err != nil {
			t.Fatal(err)
		}
		if err := p.AddLive(f); err != nil {
			t.Fatal(err)
		}
		f.Close()
		if got := okToken(t)(p.Token(context.Background(), name)).AccessToken(); got != value {
			t.Fatalf("%s: %q", name, got)
		}
		if err := p.Remove(name); err != nil {
			t.Fatal(err)
		}
		if _, err := p.Token(context.Background(), name); err == nil {
			t.Fatalf("%s still answers after Remove", name)
		}
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	var e *tokenforge.Error
	if err := p.Remove("nope"); !errors.As(err, &e) || e.Code != tokenforge.CodeInvalidArgument {
		t.Errorf("Remove(nope) = %v", err)
	}
}
