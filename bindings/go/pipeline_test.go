package tokenforge_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	tokenforge "github.com/tokenforge/tokenforge/bindings/go"
)

// threeSteps is the pipeline of the C tests: a user token that needs a device token (from a
// header) and an app token (client credentials).
func threeSteps() string {
	return fmt.Sprintf(`{"steps":[
	  {"name":"user","kind":"body","base_url":%[1]q,"endpoint":"/user/auth","depends_on":["device","app"],
	   "request_headers":{"X-Device-Token":"{{device.access_token}}","Authorization":"{{app.authorization}}"}},
	  {"name":"device","kind":"header","base_url":%[1]q,"endpoint":"/device/register",
	   "request_headers":{"X-Device-ID":"d"},"token_header":"X-Device-Token"},
	  {"name":"app","kind":"client_credentials","token_url":"%[1]s/oauth/token","client_id":"c","client_secret":"c-secret"}]}`, baseURL)
}

func mustPipeline(t *testing.T, json string) *tokenforge.Pipeline {
	t.Helper()
	p, err := tokenforge.PipelineFromJSON(json)
	if err != nil {
		t.Fatalf("PipelineFromJSON: %v", err)
	}
	t.Cleanup(p.Close)
	return p
}

// eventLog records pipeline events.
type eventLog struct {
	mu     sync.Mutex
	events []tokenforge.Event
}

func (l *eventLog) hook(ev tokenforge.Event) {
	l.mu.Lock()
	l.events = append(l.events, ev)
	l.mu.Unlock()
}

// background reports whether an event of this kind came from a background renewal.
func (l *eventLog) background(kind tokenforge.EventKind) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range l.events {
		if e.Kind == kind && e.Background {
			return true
		}
	}
	return false
}

func (l *eventLog) count(kind tokenforge.EventKind) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, e := range l.events {
		if e.Kind == kind {
			n++
		}
	}
	return n
}

func (l *eventLog) find(kind tokenforge.EventKind) (tokenforge.Event, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range l.events {
		if e.Kind == kind {
			return e, true
		}
	}
	return tokenforge.Event{}, false
}

func TestPipelineFromJSON(t *testing.T) {
	handles := tokenforge.LiveHandles()
	p := mustPipeline(t, threeSteps())
	var log eventLog
	if err := p.OnEvent(log.hook); err != nil {
		t.Fatal(err)
	}
	bg := context.Background()
	before := serverCount(t, "/user/auth")
	t1 := okToken(t)(p.Token(bg, "user"))
	t2 := okToken(t)(p.Token(bg, "user"))
	if !strings.HasPrefix(t1.AccessToken(), "user-") || t1.AccessToken() != t2.AccessToken() {
		t.Errorf("tokens %q %q", t1.AccessToken(), t2.AccessToken())
	}
	if n := serverCount(t, "/user/auth"); n != before+1 {
		t.Errorf("upstream fetches = %d, want 1", n-before)
	}
	if s, h := log.count(tokenforge.EventFetchSucceeded), log.count(tokenforge.EventCacheHit); s != 3 || h != 1 {
		t.Errorf("events: %d FETCH_SUCCEEDED, %d CACHE_HIT", s, h)
	}
	if ev, ok := log.find(tokenforge.EventFetchSucceeded); !ok || ev.Step == "" || ev.Duration <= 0 || ev.ExpiresAt.IsZero() ||
		ev.Err != nil || ev.Kind.String() != "FETCH_SUCCEEDED" {
		t.Errorf("FETCH_SUCCEEDED event: %+v", ev)
	}

	if ok, err := p.InvalidateIf("user", "other"); ok || err != nil {
		t.Errorf("InvalidateIf(other) = %v, %v", ok, err)
	}
	if ok, err := p.InvalidateIf("user", t1.AccessToken()); !ok || err != nil {
		t.Errorf("InvalidateIf(current) = %v, %v", ok, err)
	}
	if err := p.Invalidate("device"); err != nil {
		t.Fatal(err)
	}
	if n := log.count(tokenforge.EventInvalidated); n != 2 {
		t.Errorf("INVALIDATED events = %d, want 2", n)
	}
	t3 := okToken(t)(p.Token(bg, "user"))
	if t3.AccessToken() == t1.AccessToken() || serverCount(t, "/user/auth") != before+2 {
		t.Errorf("after invalidation: %q", t3.AccessToken())
	}
	if err := p.Invalidate("nope"); asError(t, err).Code != tokenforge.CodeInvalidArgument {
		t.Errorf("Invalidate(unknown): %v", err)
	}
	if _, err := p.Token(bg, "nope"); asError(t, err).Code != tokenforge.CodeInvalidArgument {
		t.Errorf("Token(unknown): %v", err)
	}
	if _, err := p.InvalidateIf("nope", "x"); asError(t, err).Code != tokenforge.CodeInvalidArgument {
		t.Errorf("InvalidateIf(unknown): %v", err)
	}
	if got := tokenforge.LiveHandles(); got != handles+1 {
		t.Errorf("handles = %d, want %d", got, handles+1)
	}
	p.Close()
	if got := tokenforge.LiveHandles(); got != handles {
		t.Errorf("the event hook was not released: %d, want %d", got, handles)
	}
}

func TestPipelineJSONErrors(t *testing.T) {
	_, err := tokenforge.PipelineFromJSON(`{"steps":[{"name":"s","kind":"body","base_url":"http://h","tll_ms":5}]}`)
	if e := asError(t, err); e.Code != tokenforge.CodeConfig || e.Step != "s" || e.Field != "tll_ms" || !strings.Contains(e.Message, `did you mean "ttl_ms"`) {
		t.Errorf("unknown key: %+v", e)
	}
	// Every problem at once; the first one's step and field.
	_, err = tokenforge.PipelineFromJSON(`{"steps":[{"name":"a","kind":"bdy","base_url":"http://h"},
	  {"name":"b","kind":"body","base_url":"http://h","depends_on":["c"]}]}`)
	if e := asError(t, err); e.Step != "a" || e.Field != "kind" || !strings.HasPrefix(e.Message, "pipeline JSON has 2 problems") {
		t.Errorf("two problems: %+v", e)
	}
	_, err = tokenforge.PipelineFromJSON("not json")
	if asError(t, err).Code != tokenforge.CodeConfig {
		t.Errorf("not JSON: %v", err)
	}
	_, err = tokenforge.PipelineFromJSON(`{"steps":[{"name":"s","kind":"body","base_url":"${env:TOKENFORGE_GO_SURELY_UNSET}"}]}`)
	if e := asError(t, err); e.Code != tokenforge.CodeConfig || !strings.Contains(e.Message, "TOKENFORGE_GO_SURELY_UNSET") {
		t.Errorf("missing variable: %+v", e)
	}
}

func TestPipelineProgrammatic(t *testing.T) {
	p := tokenforge.NewPipeline()
	defer p.Close()
	key := unique("prog")
	b := okFetcher(t)(tokenforge.NewCustomFetcher(tokenforge.CustomOptions{
		Name: "b", DependsOn: []string{"a"},
		Fetch: func(ctx *tokenforge.Context) (*tokenforge.Token, error) {
			a := ctx.Get("a")
			defer a.Close()
			return tokenforge.NewToken("b-of-"+a.AccessToken(), "", time.Time{}, "")
		},
	}))
	if err := p.Add(b); err != nil {
		t.Fatal(err)
	}
	if e := asError(t, p.Validate()); e.Code != tokenforge.CodeConfig || !strings.Contains(e.Message, `"a"`) {
		t.Errorf("Validate with a missing dependency: %+v", e)
	}
	a := okFetcher(t)(tokenforge.NewBodyFetcher(tokenforge.BodyOptions{Name: "a", BaseURL: baseURL, Endpoint: "/switch/" + key}))
	if err := p.Add(a); err != nil {
		t.Fatal(err)
	}
	a.Close() // the pipeline keeps its own reference
	if err := p.Add(b); asError(t, err).Code != tokenforge.CodeConfig {
		t.Errorf("duplicate step: %v", err)
	}
	if err := p.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
	for _, err := range []error{p.SetRefreshMargin(-time.Second), p.SetDefaultLifetime(0)} {
		if asError(t, err).Code != tokenforge.CodeInvalidArgument {
			t.Errorf("bad setting accepted: %v", err)
		}
	}
	if err := p.SetRefreshMargin(30 * time.Second); err != nil {
		t.Error(err)
	}
	if err := p.SetDefaultLifetime(time.Hour); err != nil {
		t.Error(err)
	}
	tok := okToken(t)(p.Token(context.Background(), "b"))
	if !regexp.MustCompile(`^b-of-` + key + `-\d+$`).MatchString(tok.AccessToken()) {
		t.Errorf("b = %q", tok.AccessToken())
	}
	// The default lifetime is a caching rule: the token itself keeps its unknown expiry.
	if !tok.ExpiresAt().IsZero() {
		t.Errorf("custom token expiry: %v", tok.ExpiresAt())
	}
}

// A custom fetcher that asks its own pipeline for itself gets CONFIG, never a deadlock.
func TestPipelineReentrancy(t *testing.T) {
	p := tokenforge.NewPipeline()
	defer p.Close()
	f := okFetcher(t)(tokenforge.NewCustomFetcher(tokenforge.CustomOptions{
		Name: "self",
		Fetch: func(*tokenforge.Context) (*tokenforge.Token, error) {
			return p.Token(context.Background(), "self")
		},
	}))
	if err := p.Add(f); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := p.Token(context.Background(), "self")
		done <- err
	}()
	select {
	case err := <-done:
		if e := asError(t, err); e.Code != tokenforge.CodeConfig || !strings.Contains(e.Message, "own fetch") {
			t.Errorf("re-entrant get: %+v", e)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("re-entrant get deadlocked")
	}
}

func TestPipelineEvents(t *testing.T) {
	key := unique("flaky")
	p := mustPipeline(t, fmt.Sprintf(`{"steps":[
	  {"name":"flaky","kind":"body","base_url":%[1]q,"endpoint":"/flaky/%[2]s/1","retry":{"max_attempts":3,"base_delay_ms":1}},
	  {"name":"broken","kind":"body","base_url":%[1]q,"endpoint":"/status/500","retry":{"max_attempts":1,"base_delay_ms":1}}]}`,
		baseURL, key))
	var log eventLog
	panicked := false
	if err := p.OnEvent(func(ev tokenforge.Event) {
		log.hook(ev)
		if !panicked {
			panicked = true
			panic("an event hook panic is ignored")
		}
	}); err != nil {
		t.Fatal(err)
	}
	okToken(t)(p.Token(context.Background(), "flaky"))
	if ev, ok := log.find(tokenforge.EventRetry); !ok || ev.Attempt != 2 || ev.Step != "flaky" || ev.Kind.String() != "RETRY" {
		t.Errorf("RETRY event: %+v (found %v)", ev, ok)
	}
	_, err := p.Token(context.Background(), "broken")
	if asError(t, err).HTTPStatus != 500 {
		t.Errorf("broken: %v", err)
	}
	ev, ok := log.find(tokenforge.EventFetchFailed)
	if !ok || ev.Err == nil || ev.Err.HTTPStatus != 500 || ev.Err.Code != tokenforge.CodeHTTPStatus || ev.Step != "broken" {
		t.Errorf("FETCH_FAILED event: %+v", ev)
	}
	if tokenforge.EventKind(42).String() != "UNKNOWN" || tokenforge.EventLoadedFromStorage.String() != "LOADED_FROM_STORAGE" {
		t.Error("EventKind names")
	}
}

// A short-lived token carrying a refresh token is renewed through the refresh endpoint.
func TestPipelineRefreshEndpoint(t *testing.T) {
	p := tokenforge.NewPipeline()
	defer p.Close()
	f := okFetcher(t)(tokenforge.NewClientCredentialsFetcher(tokenforge.ClientCredentialsOptions{
		Name: "cc", TokenURL: baseURL + "/oauth/token", ClientID: "c", ClientSecret: "c-secret", Scope: "offline",
		TTL:             2 * time.Second,
		RefreshEndpoint: &tokenforge.RefreshEndpoint{TokenURL: baseURL + "/oauth/token", ClientID: "c", ClientSecret: "c-secret"},
	}))
	if err := p.Add(f); err != nil {
		t.Fatal(err)
	}
	var log eventLog
	if err := p.OnEvent(log.hook); err != nil {
		t.Fatal(err)
	}
	first := okToken(t)(p.Token(context.Background(), "cc"))
	if !strings.HasPrefix(first.AccessToken(), "cc-") {
		t.Fatalf("first token %q", first.AccessToken())
	}
	time.Sleep(1100 * time.Millisecond) // less than half the 2 s lifetime is left: stale
	// Still valid: served at once while the renewal runs in the background.
	if served := okToken(t)(p.Token(context.Background(), "cc")); served.AccessToken() != first.AccessToken() {
		t.Errorf("served %q while renewing, want %q", served.AccessToken(), first.AccessToken())
	}
	renewed := first
	for end := time.Now().Add(5 * time.Second); renewed.AccessToken() == first.AccessToken() && time.Now().Before(end); {
		time.Sleep(5 * time.Millisecond)
		renewed = okToken(t)(p.Token(context.Background(), "cc"))
	}
	if !strings.HasPrefix(renewed.AccessToken(), "rf-") || log.count(tokenforge.EventRefreshed) != 1 {
		t.Errorf("renewed %q, %d REFRESHED events", renewed.AccessToken(), log.count(tokenforge.EventRefreshed))
	}
	if !log.background(tokenforge.EventRefreshed) {
		t.Error("the REFRESHED event does not say it happened in the background")
	}
}

// Without background refresh the caller that finds the token due renews it itself.
func TestPipelineSynchronousRefresh(t *testing.T) {
	p := tokenforge.NewPipeline()
	defer p.Close()
	if err := p.SetBackgroundRefresh(false); err != nil {
		t.Fatal(err)
	}
	f := okFetcher(t)(tokenforge.NewBodyFetcher(tokenforge.BodyOptions{Name: "sync", BaseURL: baseURL, Endpoint: "/switch/gosync", TTL: time.Second}))
	if err := p.Add(f); err != nil {
		t.Fatal(err)
	}
	first := okToken(t)(p.Token(context.Background(), "sync"))
	time.Sleep(600 * time.Millisecond) // stale: the margin is half the lifetime
	if renewed := okToken(t)(p.Token(context.Background(), "sync")); renewed.AccessToken() == first.AccessToken() {
		t.Errorf("the caller got the stale token %q, not its own renewal", renewed.AccessToken())
	}
}

// Hook and custom fetcher errors reach Pipeline.Token callers as they reach Fetch callers.
func TestPipelineHookErrors(t *testing.T) {
	p := tokenforge.NewPipeline()
	defer p.Close()
	dep := okFetcher(t)(tokenforge.NewCustomFetcher(tokenforge.CustomOptions{
		Name: "dep", Fetch: func(*tokenforge.Context) (*tokenforge.Token, error) { return nil, errSentinel },
	}))
	top := okFetcher(t)(tokenforge.NewBodyFetcher(tokenforge.BodyOptions{
		Name: "top", BaseURL: baseURL, Endpoint: "/echo", DependsOn: []string{"dep"},
	}))
	hooked := okFetcher(t)(tokenforge.NewBodyFetcher(tokenforge.BodyOptions{
		Name: "hooked", BaseURL: baseURL, Endpoint: "/echo",
		RequestHook: func(*tokenforge.Context, *tokenforge.Request) error {
			return fmt.Errorf("%w", tokenforge.NewError(tokenforge.CodeOAuth, "hook says no"))
		},
	}))
	for _, f := range []*tokenforge.Fetcher{dep, top, hooked} {
		if err := p.Add(f); err != nil {
			t.Fatal(err)
		}
	}
	for _, w := range []struct {
		step string
		code tokenforge.Code
		msg  string
	}{
		{"dep", tokenforge.CodeCallback, "no way"},
		{"top", tokenforge.CodeDependency, `dependency "dep" failed: no way`},
		{"hooked", tokenforge.CodeOAuth, "tokenforge OAUTH: hook says no"},
	} {
		for _, s := range []string{"dep", "top", "hooked"} { // ends any backoff
			if err := p.Invalidate(s); err != nil {
				t.Fatal(err)
			}
		}
		_, err := p.Token(context.Background(), w.step)
		e := asError(t, err)
		if e.Code != w.code || !strings.Contains(e.Message, w.msg) || e.Step == "" {
			t.Errorf("%s: %+v, want %v %q", w.step, e, w.code, w.msg)
		}
		if w.step != "hooked" && !errors.Is(err, errSentinel) {
			t.Errorf("%s: errors.Is(err, sentinel) is false", w.step)
		}
	}
}

// A request hook that refuses on a library thread (a dependency fetched in parallel) reaches
// the Pipeline.Token caller with its code, its message and its Go error.
func TestRequestHookErrorFromALibraryThread(t *testing.T) {
	p := tokenforge.NewPipeline()
	defer p.Close()
	slow := okFetcher(t)(tokenforge.NewBodyFetcher(tokenforge.BodyOptions{Name: "slow", BaseURL: baseURL, Endpoint: "/slow/50"}))
	refusing := okFetcher(t)(tokenforge.NewBodyFetcher(tokenforge.BodyOptions{
		Name: "refusing", BaseURL: baseURL, Endpoint: "/echo",
		RequestHook: func(*tokenforge.Context, *tokenforge.Request) error {
			return fmt.Errorf("vault: %w", errSentinel)
		},
	}))
	top := okFetcher(t)(tokenforge.NewBodyFetcher(tokenforge.BodyOptions{
		Name: "top", BaseURL: baseURL, Endpoint: "/echo", DependsOn: []string{"slow", "refusing"},
	}))
	for _, f := range []*tokenforge.Fetcher{slow, refusing, top} {
		if err := p.Add(f); err != nil {
			t.Fatal(err)
		}
	}
	_, err := p.Token(context.Background(), "top") // "refusing" runs on a library thread
	e := asError(t, err)
	if e.Code != tokenforge.CodeDependency || !strings.Contains(e.Message, "vault: no way") || !errors.Is(err, errSentinel) {
		t.Errorf("derived: %+v (errors.Is %v)", e, errors.Is(err, errSentinel))
	}
	if err := p.Invalidate("refusing"); err != nil {
		t.Fatal(err)
	}
	_, err = p.Token(context.Background(), "refusing")
	e = asError(t, err)
	if e.Code != tokenforge.CodeCallback || e.Message != "vault: no way" || e.Step != "refusing" || !errors.Is(err, errSentinel) {
		t.Errorf("direct: %+v", e)
	}
}
