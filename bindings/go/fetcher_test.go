package tokenforge_test

import (
	"strings"
	"testing"
	"time"

	tokenforge "github.com/tokenforge/tokenforge/bindings/go"
)

func TestBodyFetcherOptions(t *testing.T) {
	f := okFetcher(t)(tokenforge.NewBodyFetcher(tokenforge.BodyOptions{
		Name: "echo", BaseURL: baseURL, Endpoint: "/echo",
		Headers: map[string]string{"X-Static": "1"},
		Data:    map[string]string{"b": "2", "a": "1"},
		Query:   map[string]string{"q": "v"},
	}))
	if f.Name() != "echo" || len(f.Dependencies()) != 0 {
		t.Errorf("Name %q, Dependencies %v", f.Name(), f.Dependencies())
	}
	tok := okToken(t)(f.Fetch(nil))
	for field, want := range map[string]string{
		"method": "POST", "query": "q=v", "body": "a=1&b=2", "header.x-static": "1",
		"content_type": "application/x-www-form-urlencoded",
	} {
		if got := extra(t, tok, field); got != want {
			t.Errorf("%s = %q, want %q", field, got, want)
		}
	}
	if tok.AccessToken() != "echo-token" || tok.TokenType() != "Bearer" {
		t.Errorf("token %q type %q", tok.AccessToken(), tok.TokenType())
	}
	if d := time.Until(tok.ExpiresAt()); d < 3590*time.Second || d > 3600*time.Second {
		t.Errorf("expires in %v, want about 1h", d)
	}

	j := okFetcher(t)(tokenforge.NewBodyFetcher(tokenforge.BodyOptions{
		Name: "json", BaseURL: baseURL, Endpoint: "/echo", ContentType: tokenforge.ContentTypeJSON,
		Data: map[string]string{"user": "u"}, BasicAuth: &tokenforge.BasicAuth{User: "u", Password: "p"},
		TTL: 10 * time.Second, Timeout: 5 * time.Second, Retry: &tokenforge.Retry{MaxAttempts: 2, BaseDelay: time.Millisecond},
		DefaultTokenType: "Custom",
	}))
	tok = okToken(t)(j.Fetch(nil))
	if got := extra(t, tok, "content_type"); got != "application/json" {
		t.Errorf("content_type = %q", got)
	}
	if got := extra(t, tok, "body"); !strings.Contains(got, `"user":"u"`) {
		t.Errorf("JSON body = %q", got)
	}
	if got := extra(t, tok, "header.authorization"); got != "Basic dTpw" {
		t.Errorf("basic auth header = %q", got)
	}
	if d := time.Until(tok.ExpiresAt()); d < 8*time.Second || d > 10*time.Second {
		t.Errorf("TTL: expires in %v, want 10s", d)
	}
	if tok.TokenType() != "Custom" {
		t.Errorf("default token type: %q", tok.TokenType())
	}

	g := okFetcher(t)(tokenforge.NewBodyFetcher(tokenforge.BodyOptions{
		Name: "get", BaseURL: baseURL, Endpoint: "/echo", Method: "get", Data: map[string]string{"k": "v"},
	}))
	tok = okToken(t)(g.Fetch(nil))
	if m, q := extra(t, tok, "method"), extra(t, tok, "query"); m != "GET" || q != "k=v" {
		t.Errorf("GET: method %q query %q", m, q)
	}
}

func TestNestedFields(t *testing.T) {
	f := okFetcher(t)(tokenforge.NewBodyFetcher(tokenforge.BodyOptions{
		Name: "nested", BaseURL: baseURL, Endpoint: "/nested",
		TokenField: "data.auth.token", TokenTypeField: "data.auth.type", ExpiresInField: "data.auth.ttl",
		RefreshTokenField: "session",
	}))
	tok := okToken(t)(f.Fetch(nil))
	if !strings.HasPrefix(tok.AccessToken(), "nested-") || tok.TokenType() != "Custom" || tok.RefreshToken() != "s-1" {
		t.Errorf("token %q type %q refresh %q", tok.AccessToken(), tok.TokenType(), tok.RefreshToken())
	}
	if d := time.Until(tok.ExpiresAt()); d < 110*time.Second || d > 120*time.Second {
		t.Errorf("expires in %v, want 120s", d)
	}
	if got := extra(t, tok, "data"); !strings.HasPrefix(got, "{") {
		t.Errorf("a JSON object extra is JSON text: %q", got)
	}
}

func TestHeaderFetcher(t *testing.T) {
	f := okFetcher(t)(tokenforge.NewHeaderFetcher(tokenforge.HeaderOptions{
		Name: "hdr", BaseURL: baseURL, Endpoint: "/header-token", TokenHeader: "x-auth-token",
	}))
	tok := okToken(t)(f.Fetch(nil))
	if !strings.HasPrefix(tok.AccessToken(), "hdr-") || tok.TokenType() != "Bearer" {
		t.Errorf("header token %q type %q", tok.AccessToken(), tok.TokenType())
	}
	s := okFetcher(t)(tokenforge.NewHeaderFetcher(tokenforge.HeaderOptions{
		Name: "sess", BaseURL: baseURL, Endpoint: "/auth/session", Method: "GET",
		Headers: map[string]string{"X-API-Key": "k"}, TokenHeader: "X-Session-Token", TokenType: "Session",
	}))
	tok = okToken(t)(s.Fetch(nil))
	if !strings.HasPrefix(tok.AccessToken(), "sess-") || tok.Authorization() != "Session "+tok.AccessToken() {
		t.Errorf("session token %q, authorization %q", tok.AccessToken(), tok.Authorization())
	}
}

func TestClientCredentialsFetcher(t *testing.T) {
	f := okFetcher(t)(tokenforge.NewClientCredentialsFetcher(tokenforge.ClientCredentialsOptions{
		Name: "cc", TokenURL: baseURL + "/oauth/token", ClientID: "c", ClientSecret: "c-secret", Scope: "read offline",
	}))
	tok := okToken(t)(f.Fetch(nil))
	if !strings.HasPrefix(tok.AccessToken(), "cc-") || tok.Scope() != "read offline" || !strings.HasPrefix(tok.RefreshToken(), "rt-") {
		t.Errorf("token %q scope %q refresh %q", tok.AccessToken(), tok.Scope(), tok.RefreshToken())
	}
	if got := extra(t, tok, "client_auth"); got != "basic" {
		t.Errorf("client_auth = %q", got)
	}
	b := okFetcher(t)(tokenforge.NewClientCredentialsFetcher(tokenforge.ClientCredentialsOptions{
		Name: "ccb", TokenURL: baseURL + "/oauth/token", ClientID: "c", ClientSecret: "c-secret", ClientAuthInBody: true,
	}))
	tok = okToken(t)(b.Fetch(nil))
	if got := extra(t, tok, "client_auth"); got != "body" || tok.Scope() != "" || tok.RefreshToken() != "" {
		t.Errorf("client_auth = %q, scope %q, refresh %q", got, tok.Scope(), tok.RefreshToken())
	}
}

func TestFetcherDependencies(t *testing.T) {
	f := okFetcher(t)(tokenforge.NewBodyFetcher(tokenforge.BodyOptions{
		Name: "user", BaseURL: baseURL, Endpoint: "/echo", DependsOn: []string{"app", "device"},
		Headers: map[string]string{"X-App": "{{app.access_token}}", "X-Device": "{{device.authorization}}"},
	}))
	if deps := f.Dependencies(); len(deps) != 2 || deps[0] != "app" || deps[1] != "device" {
		t.Errorf("Dependencies = %v", deps)
	}
	_, err := f.Fetch(nil)
	if e := asError(t, err); e.Code != tokenforge.CodeDependency || e.Step != "user" {
		t.Errorf("fetch without context: %+v", e)
	}
	ctx := tokenforge.NewContext()
	defer ctx.Close()
	app := okToken(t)(tokenforge.NewToken("app-7", "", time.Time{}, ""))
	dev := okToken(t)(tokenforge.NewToken("dev-3", "Device", time.Time{}, ""))
	if err := ctx.Set("app", app); err != nil {
		t.Fatal(err)
	}
	_, err = f.Fetch(ctx)
	if e := asError(t, err); e.Code != tokenforge.CodeDependency {
		t.Errorf("fetch with a dependency missing: %+v", e)
	}
	if err := ctx.Set("device", dev); err != nil {
		t.Fatal(err)
	}
	tok := okToken(t)(f.Fetch(ctx))
	if a, d := extra(t, tok, "header.x-app"), extra(t, tok, "header.x-device"); a != "app-7" || d != "Device dev-3" {
		t.Errorf("templates: %q %q", a, d)
	}
}

func TestFetcherOptionErrors(t *testing.T) {
	handles := tokenforge.LiveHandles()
	hook := func(*tokenforge.Context, *tokenforge.Request) error { return nil }
	cases := []struct {
		name string
		make func() (*tokenforge.Fetcher, error)
		code tokenforge.Code
		msg  string
	}{
		{"method", func() (*tokenforge.Fetcher, error) {
			return tokenforge.NewBodyFetcher(tokenforge.BodyOptions{Name: "m", BaseURL: baseURL, Method: "PUT", RequestHook: hook})
		}, tokenforge.CodeInvalidArgument, "method"},
		{"url", func() (*tokenforge.Fetcher, error) {
			return tokenforge.NewBodyFetcher(tokenforge.BodyOptions{Name: "u", BaseURL: "not a url", RequestHook: hook,
				ErrorHook: func(*tokenforge.Error, *tokenforge.Context) {}})
		}, tokenforge.CodeInvalidArgument, ""},
		{"template", func() (*tokenforge.Fetcher, error) {
			return tokenforge.NewBodyFetcher(tokenforge.BodyOptions{Name: "t", BaseURL: baseURL,
				Headers: map[string]string{"X": "{{other.access_token}}"}, RequestHook: hook})
		}, tokenforge.CodeConfig, ""},
		{"retry", func() (*tokenforge.Fetcher, error) {
			return tokenforge.NewHeaderFetcher(tokenforge.HeaderOptions{Name: "r", BaseURL: baseURL, Retry: &tokenforge.Retry{MaxAttempts: 11}})
		}, tokenforge.CodeInvalidArgument, "retry"},
		{"header name", func() (*tokenforge.Fetcher, error) {
			return tokenforge.NewHeaderFetcher(tokenforge.HeaderOptions{Name: "h", BaseURL: baseURL, Headers: map[string]string{"Bad Name": "x"}})
		}, tokenforge.CodeInvalidArgument, "Bad Name"},
		{"NUL in scope", func() (*tokenforge.Fetcher, error) {
			return tokenforge.NewClientCredentialsFetcher(tokenforge.ClientCredentialsOptions{Name: "c", TokenURL: baseURL, ClientID: "c",
				ClientSecret: "s", Scope: "a\x00b", ErrorHook: func(*tokenforge.Error, *tokenforge.Context) {}})
		}, tokenforge.CodeInvalidArgument, ""},
		{"refresh endpoint", func() (*tokenforge.Fetcher, error) {
			return tokenforge.NewClientCredentialsFetcher(tokenforge.ClientCredentialsOptions{Name: "c", TokenURL: baseURL, ClientID: "c",
				ClientSecret: "s", RefreshEndpoint: &tokenforge.RefreshEndpoint{TokenURL: "::bad", ClientID: "c"}})
		}, tokenforge.CodeInvalidArgument, "refresh endpoint"},
		{"ttl", func() (*tokenforge.Fetcher, error) {
			return tokenforge.NewBodyFetcher(tokenforge.BodyOptions{Name: "ttl", BaseURL: baseURL, TTL: -time.Second})
		}, tokenforge.CodeInvalidArgument, "TTL"},
		{"self dependency", func() (*tokenforge.Fetcher, error) {
			return tokenforge.NewCustomFetcher(tokenforge.CustomOptions{Name: "s", DependsOn: []string{"s"},
				Fetch: func(*tokenforge.Context) (*tokenforge.Token, error) { return nil, nil }})
		}, tokenforge.CodeConfig, ""},
		{"custom without fetch", func() (*tokenforge.Fetcher, error) {
			return tokenforge.NewCustomFetcher(tokenforge.CustomOptions{Name: "n"})
		}, tokenforge.CodeInvalidArgument, ""},
		{"NUL", func() (*tokenforge.Fetcher, error) {
			return tokenforge.NewBodyFetcher(tokenforge.BodyOptions{Name: "n\x00", BaseURL: baseURL, RequestHook: hook})
		}, tokenforge.CodeInvalidArgument, ""},
	}
	for _, c := range cases {
		f, err := c.make()
		e := asError(t, err)
		if f != nil || e.Code != c.code || !strings.Contains(e.Message, c.msg) {
			t.Errorf("%s: fetcher %v, error %+v", c.name, f, e)
		}
	}
	if got := tokenforge.LiveHandles(); got != handles {
		t.Errorf("failed constructions leaked handles: %d, want %d", got, handles)
	}
}
