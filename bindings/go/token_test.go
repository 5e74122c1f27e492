package tokenforge_test

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	tokenforge "github.com/tokenforge/tokenforge/bindings/go"
)

func TestVersion(t *testing.T) {
	if v := tokenforge.Version(); !regexp.MustCompile(`^\d+\.\d+\.\d+$`).MatchString(v) {
		t.Fatalf("Version() = %q", v)
	}
}

func TestCodeString(t *testing.T) {
	for code, want := range map[tokenforge.Code]string{
		tokenforge.CodeOK: "OK", tokenforge.CodeInvalidArgument: "INVALID_ARGUMENT", tokenforge.CodeConfig: "CONFIG",
		tokenforge.CodeTransport: "TRANSPORT", tokenforge.CodeTimeout: "TIMEOUT", tokenforge.CodeHTTPStatus: "HTTP_STATUS",
		tokenforge.CodeOAuth: "OAUTH", tokenforge.CodeResponse: "RESPONSE", tokenforge.CodeDependency: "DEPENDENCY",
		tokenforge.CodeCallback: "CALLBACK", tokenforge.CodeStorage: "STORAGE", tokenforge.CodePanic: "PANIC",
		tokenforge.Code(12345): "UNKNOWN", tokenforge.Code(-1): "UNKNOWN",
	} {
		if got := code.String(); got != want {
			t.Errorf("Code(%d).String() = %q, want %q", int(code), got, want)
		}
	}
	if got := tokenforge.CodePanic; int(got) != 99 {
		t.Errorf("CodePanic = %d", got)
	}
}

func TestToken(t *testing.T) {
	exp := time.Now().Add(time.Hour).Truncate(time.Millisecond)
	tok := okToken(t)(tokenforge.NewToken("abc", "", exp, "rt-1"))
	checks := []struct{ got, want string }{
		{tok.AccessToken(), "abc"}, {tok.TokenType(), "Bearer"}, {tok.RefreshToken(), "rt-1"},
		{tok.Scope(), ""}, {tok.Authorization(), "Bearer abc"},
	}
	for i, c := range checks {
		if c.got != c.want {
			t.Errorf("check %d: got %q, want %q", i, c.got, c.want)
		}
	}
	if !tok.ExpiresAt().Equal(exp) {
		t.Errorf("ExpiresAt = %v, want %v", tok.ExpiresAt(), exp)
	}
	if tok.IsExpired(0) || !tok.IsExpired(2*time.Hour) {
		t.Errorf("IsExpired(0) = %v, IsExpired(2h) = %v", tok.IsExpired(0), tok.IsExpired(2*time.Hour))
	}
	if v, ok := tok.Extra("id_token"); ok || v != "" {
		t.Errorf("Extra(id_token) = %q, %v", v, ok)
	}
	if s := tok.String(); strings.Contains(s, "abc") || strings.Contains(s, "rt-1") || !strings.Contains(s, "Bearer") {
		t.Errorf("String() = %q reveals the token or lacks the type", s)
	}

	c := tok.Clone()
	tok.Close()
	if c.AccessToken() != "abc" {
		t.Errorf("clone after closing the original: %q", c.AccessToken())
	}
	c.Close()

	u := okToken(t)(tokenforge.NewToken("u", "MAC", time.Time{}, ""))
	if !u.ExpiresAt().IsZero() || u.IsExpired(time.Hour) || u.TokenType() != "MAC" || u.RefreshToken() != "" {
		t.Errorf("unknown expiry token: %v %v %q %q", u.ExpiresAt(), u.IsExpired(time.Hour), u.TokenType(), u.RefreshToken())
	}
	if u.Authorization() != "MAC u" {
		t.Errorf("Authorization = %q", u.Authorization())
	}

	for _, bad := range [][2]string{{"", ""}, {"a\r\nb", ""}, {"a\x00b", ""}, {"ok", "Bear\ner"}} {
		tk, err := tokenforge.NewToken(bad[0], bad[1], time.Time{}, "")
		if tk != nil || asError(t, err).Code != tokenforge.CodeInvalidArgument {
			t.Errorf("NewToken(%q, %q) = %v, %v", bad[0], bad[1], tk, err)
		}
	}
}

func TestContext(t *testing.T) {
	c := tokenforge.NewContext()
	defer c.Close()
	if c.Len() != 0 || c.Get("app") != nil {
		t.Fatal("new context is not empty")
	}
	a := okToken(t)(tokenforge.NewToken("a1", "", time.Time{}, ""))
	if err := c.Set("app", a); err != nil {
		t.Fatal(err)
	}
	a.Close() // the context keeps its own copy
	b := okToken(t)(tokenforge.NewToken("b1", "", time.Time{}, ""))
	if err := c.Set("dev", b); err != nil {
		t.Fatal(err)
	}
	got := c.Get("app")
	if got == nil || got.AccessToken() != "a1" || c.Len() != 2 {
		t.Fatalf("Get(app) = %v, Len = %d", got, c.Len())
	}
	a2 := okToken(t)(tokenforge.NewToken("a2", "", time.Time{}, ""))
	if err := c.Set("app", a2); err != nil {
		t.Fatal(err)
	}
	if got.AccessToken() != "a1" { // an earlier Get stays valid after a replacement
		t.Errorf("earlier Get changed: %q", got.AccessToken())
	}
	got.Close()
	if g := c.Get("app"); g == nil || g.AccessToken() != "a2" || c.Len() != 2 {
		t.Errorf("after replacement: %v, Len %d", g, c.Len())
	}
	if err := c.Set("\xff", a2); asError(t, err).Code != tokenforge.CodeInvalidArgument {
		t.Errorf("Set with a name that is not UTF-8: %v", err)
	}
	if err := c.Set("x", nil); asError(t, err).Code != tokenforge.CodeInvalidArgument {
		t.Errorf("Set with nil token: %v", err)
	}
	var nilCtx *tokenforge.Context
	if nilCtx.Len() != 0 || nilCtx.Get("app") != nil {
		t.Error("nil context is not empty")
	}
}

func TestCloseIdempotent(t *testing.T) {
	base := tokenforge.LiveObjects()
	tok, _ := tokenforge.NewToken("x", "", time.Time{}, "")
	ctx := tokenforge.NewContext()
	f, err := tokenforge.NewBodyFetcher(tokenforge.BodyOptions{Name: "c", BaseURL: baseURL, Endpoint: "/echo"})
	if err != nil {
		t.Fatal(err)
	}
	p := tokenforge.NewPipeline()
	s := tokenforge.NewMemoryStorage()
	if got := tokenforge.LiveObjects(); got != base+5 {
		t.Fatalf("live objects = %d, want %d", got, base+5)
	}
	for i := 0; i < 3; i++ {
		tok.Close()
		ctx.Close()
		f.Close()
		p.Close()
		s.Close()
	}
	if got := tokenforge.LiveObjects(); got != base {
		t.Fatalf("live objects after Close = %d, want %d", got, base)
	}
	if tok.AccessToken() != "" || !tok.IsExpired(0) || tok.Clone() != nil || !tok.ExpiresAt().IsZero() {
		t.Error("closed token still answers")
	}
	if ctx.Len() != 0 || ctx.Get("x") != nil || !errors.Is(ctx.Set("x", nil), tokenforge.ErrClosed) {
		t.Error("closed context still answers")
	}
	if _, err := f.Fetch(nil); !errors.Is(err, tokenforge.ErrClosed) || f.Name() != "" || f.Dependencies() != nil {
		t.Errorf("closed fetcher: %v", err)
	}
	if _, err := p.Token(context.Background(), "x"); !errors.Is(err, tokenforge.ErrClosed) {
		t.Errorf("closed pipeline Token: %v", err)
	}
	if err := p.Validate(); !errors.Is(err, tokenforge.ErrClosed) {
		t.Errorf("closed pipeline Validate: %v", err)
	}
	if err := s.Delete("k"); !errors.Is(err, tokenforge.ErrClosed) {
		t.Errorf("closed storage: %v", err)
	}
	p2 := tokenforge.NewPipeline()
	defer p2.Close()
	if err := p2.Add(f); asError(t, err).Code != tokenforge.CodeInvalidArgument {
		t.Errorf("Add(closed fetcher): %v", err)
	}
	if err := p2.SetStorage(s, ""); asError(t, err).Code != tokenforge.CodeInvalidArgument {
		t.Errorf("SetStorage(closed storage): %v", err)
	}
	// nil receivers behave as closed objects.
	var nt *tokenforge.Token
	var nf *tokenforge.Fetcher
	var np *tokenforge.Pipeline
	var ns *tokenforge.Storage
	nt.Close()
	nf.Close()
	np.Close()
	ns.Close()
	if _, err := np.Token(context.Background(), "x"); !errors.Is(err, tokenforge.ErrClosed) {
		t.Errorf("nil pipeline: %v", err)
	}
}

func TestOAuth2Refresh(t *testing.T) {
	f := okFetcher(t)(tokenforge.NewClientCredentialsFetcher(tokenforge.ClientCredentialsOptions{
		Name: "cc", TokenURL: baseURL + "/oauth/token", ClientID: "c", ClientSecret: "c-secret", Scope: "offline",
	}))
	first := okToken(t)(f.Fetch(nil))
	rt := first.RefreshToken()
	if !strings.HasPrefix(rt, "rt-") {
		t.Fatalf("no refresh token: %q", rt)
	}
	renewed := okToken(t)(tokenforge.OAuth2Refresh(baseURL+"/oauth/token", rt, "c", "c-secret", 5*time.Second))
	if !strings.HasPrefix(renewed.AccessToken(), "rf-") || renewed.RefreshToken() == rt || renewed.RefreshToken() == "" {
		t.Errorf("refreshed: %q, refresh token %q", renewed.AccessToken(), renewed.RefreshToken())
	}
	if renewed.ExpiresAt().IsZero() {
		t.Error("refreshed token has no expiry")
	}
	// The old refresh token was rotated away.
	_, err := tokenforge.OAuth2Refresh(baseURL+"/oauth/token", rt, "c", "", 0)
	if e := asError(t, err); e.Code != tokenforge.CodeOAuth || e.OAuthError != "invalid_grant" || e.HTTPStatus != 400 {
		t.Errorf("reused refresh token: %+v", e)
	}
}
