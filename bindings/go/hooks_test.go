package tokenforge_test

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	tokenforge "github.com/tokenforge/tokenforge/bindings/go"
)

func TestRequestHook(t *testing.T) {
	var calls atomic.Int32
	spare := okToken(t)(tokenforge.NewToken("spare", "", time.Time{}, ""))
	hook := func(ctx *tokenforge.Context, req *tokenforge.Request) error {
		calls.Add(1)
		if req.Method() != "POST" || !strings.HasSuffix(req.URL(), "/echo") {
			return fmt.Errorf("request %s %s", req.Method(), req.URL())
		}
		if v, ok := req.Header("x-static"); !ok || v != "1" {
			return fmt.Errorf("x-static = %q, %v", v, ok)
		}
		if _, ok := req.Header("X-Missing"); ok {
			return errors.New("X-Missing present")
		}
		var e *tokenforge.Error
		if err := req.SetHeader("X-Bad", "a\r\nb"); !errors.As(err, &e) || e.Code != tokenforge.CodeInvalidArgument {
			return fmt.Errorf("CRLF header accepted: %v", err)
		}
		if err := ctx.Set("x", spare); err == nil {
			return errors.New("a borrowed context accepted Set")
		}
		if ctx.Len() != 1 {
			return fmt.Errorf("ctx.Len() = %d", ctx.Len())
		}
		app := ctx.Get("app")
		if app == nil {
			return errors.New("no app token in the context")
		}
		defer app.Close()
		for _, err := range []error{
			req.RemoveHeader("X-Static"),
			req.SetHeader("X-App-Token", app.AccessToken()),
			req.SetData("app_token", app.AccessToken()),
			req.RemoveData("secret"),
			req.SetQuery("hooked", "yes"),
		} {
			if err != nil {
				return err
			}
		}
		return nil
	}
	f := okFetcher(t)(tokenforge.NewBodyFetcher(tokenforge.BodyOptions{
		Name: "user", BaseURL: baseURL, Endpoint: "/echo", DependsOn: []string{"app"},
		Headers:     map[string]string{"X-Static": "1"},
		Data:        map[string]string{"secret": "s", "username": "u"},
		RequestHook: hook,
	}))
	ctx := tokenforge.NewContext()
	defer ctx.Close()
	if err := ctx.Set("app", okToken(t)(tokenforge.NewToken("app-7", "", time.Time{}, ""))); err != nil {
		t.Fatal(err)
	}
	tok := okToken(t)(f.Fetch(ctx))
	for field, want := range map[string]string{
		"header.x-app-token": "app-7", "body": "username=u&app_token=app-7", "query": "hooked=yes",
	} {
		if got := extra(t, tok, field); got != want {
			t.Errorf("%s = %q, want %q", field, got, want)
		}
	}
	if v, ok := tok.Extra("header.x-static"); ok {
		t.Errorf("removed header still sent: %q", v)
	}
	if calls.Load() != 1 {
		t.Errorf("hook calls = %d", calls.Load())
	}
}

func TestRequestHookSetBody(t *testing.T) {
	f := okFetcher(t)(tokenforge.NewBodyFetcher(tokenforge.BodyOptions{
		Name: "raw", BaseURL: baseURL, Endpoint: "/echo",
		RequestHook: func(_ *tokenforge.Context, req *tokenforge.Request) error {
			return req.SetBody([]byte(`<auth user="u"/>`), "application/xml")
		},
	}))
	tok := okToken(t)(f.Fetch(nil))
	if b, ct := extra(t, tok, "body"), extra(t, tok, "content_type"); b != `<auth user="u"/>` || ct != "application/xml" {
		t.Errorf("body %q content type %q", b, ct)
	}
	e := okFetcher(t)(tokenforge.NewBodyFetcher(tokenforge.BodyOptions{
		Name: "empty", BaseURL: baseURL, Endpoint: "/echo",
		RequestHook: func(_ *tokenforge.Context, req *tokenforge.Request) error { return req.SetBody(nil, "") },
	}))
	tok = okToken(t)(e.Fetch(nil))
	if b, ct := extra(t, tok, "body"), extra(t, tok, "content_type"); b != "" || ct != "application/octet-stream" {
		t.Errorf("empty body %q content type %q", b, ct)
	}
}

var errSentinel = errors.New("no way")

func TestRequestHookErrors(t *testing.T) {
	handles := tokenforge.LiveHandles()
	var mode atomic.Int32
	f := okFetcher(t)(tokenforge.NewBodyFetcher(tokenforge.BodyOptions{
		Name: "user", BaseURL: baseURL, Endpoint: "/echo",
		RequestHook: func(*tokenforge.Context, *tokenforge.Request) error {
			switch mode.Load() {
			case 0:
				return fmt.Errorf("wrapped: %w", errSentinel)
			case 1:
				return tokenforge.NewError(tokenforge.CodeOAuth, "proprietary auth said no")
			case 2:
				panic("boom")
			case 3:
				return &tokenforge.Error{Code: tokenforge.Code(4242), Message: "odd code"}
			}
			return nil
		},
	}))
	before := serverCount(t, "/echo")
	want := []struct {
		code tokenforge.Code
		msg  string
	}{
		{tokenforge.CodeCallback, "wrapped: no way"},
		{tokenforge.CodeOAuth, "proprietary auth said no"},
		{tokenforge.CodeCallback, "request hook panicked: boom"},
		{tokenforge.CodeCallback, "odd code"},
	}
	for i, w := range want {
		mode.Store(int32(i))
		tok, err := f.Fetch(nil)
		e := asError(t, err)
		if tok != nil || e.Code != w.code || e.Message != w.msg || e.Step != "user" {
			t.Errorf("mode %d: %+v, want %v %q", i, e, w.code, w.msg)
		}
		if i == 0 && !errors.Is(err, errSentinel) {
			t.Errorf("mode 0: errors.Is(err, sentinel) is false for %v", err)
		}
	}
	if after := serverCount(t, "/echo"); after != before {
		t.Errorf("refused requests were sent: %d -> %d", before, after)
	}
	mode.Store(9)
	okToken(t)(f.Fetch(nil))
	if got := tokenforge.LiveHandles(); got != handles+1 {
		t.Errorf("handles = %d, want %d (the hook only)", got, handles+1)
	}
}

func TestRequestValidOnlyDuringCall(t *testing.T) {
	var kept *tokenforge.Request
	var keptCtx *tokenforge.Context
	f := okFetcher(t)(tokenforge.NewBodyFetcher(tokenforge.BodyOptions{
		Name: "keep", BaseURL: baseURL, Endpoint: "/echo", DependsOn: []string{"app"},
		RequestHook: func(ctx *tokenforge.Context, req *tokenforge.Request) error {
			kept, keptCtx = req, ctx
			return nil
		},
	}))
	ctx := tokenforge.NewContext()
	defer ctx.Close()
	if err := ctx.Set("app", okToken(t)(tokenforge.NewToken("a", "", time.Time{}, ""))); err != nil {
		t.Fatal(err)
	}
	okToken(t)(f.Fetch(ctx))
	if kept == nil || keptCtx == nil {
		t.Fatal("the hook did not run")
	}
	if err := kept.SetHeader("X", "y"); !errors.Is(err, tokenforge.ErrClosed) {
		t.Errorf("request used after the hook: %v", err)
	}
	if kept.Method() != "" || kept.URL() != "" {
		t.Error("request answers after the hook")
	}
	if keptCtx.Len() != 0 || keptCtx.Get("app") != nil {
		t.Error("borrowed context answers after the hook")
	}
	keptCtx.Close() // a no-op on a borrowed view
	if ctx.Len() != 1 {
		t.Error("the caller's context changed")
	}
}

func TestErrorHook(t *testing.T) {
	var calls atomic.Int32
	var seen atomic.Value
	f := okFetcher(t)(tokenforge.NewBodyFetcher(tokenforge.BodyOptions{
		Name: "flaky", BaseURL: baseURL, Endpoint: "/status/503", Retry: &tokenforge.Retry{MaxAttempts: 2, BaseDelay: time.Millisecond},
		ErrorHook: func(err *tokenforge.Error, ctx *tokenforge.Context) {
			calls.Add(1)
			seen.Store(fmt.Sprintf("%v %d %s ctx=%v/%d", err.Code, err.HTTPStatus, err.Step, ctx != nil, ctx.Len()))
			panic("ignored")
		},
	}))
	ctx := tokenforge.NewContext()
	defer ctx.Close()
	_, err := f.Fetch(ctx)
	if e := asError(t, err); e.Code != tokenforge.CodeHTTPStatus || e.HTTPStatus != 503 {
		t.Errorf("fetch: %+v", e)
	}
	if calls.Load() != 1 {
		t.Errorf("error hook calls = %d, want 1 (not one per retry)", calls.Load())
	}
	if got := seen.Load(); got != "HTTP_STATUS 503 flaky ctx=true/0" {
		t.Errorf("error hook saw %v", got)
	}
	_, err = f.Fetch(nil)
	if asError(t, err).Code != tokenforge.CodeHTTPStatus || seen.Load() != "HTTP_STATUS 503 flaky ctx=false/0" {
		t.Errorf("without context: %v, hook saw %v", err, seen.Load())
	}
}

// A hook may fetch with another fetcher whose hook fails: each call gets its own hook's error.
func TestNestedHookCalls(t *testing.T) {
	inner := okFetcher(t)(tokenforge.NewBodyFetcher(tokenforge.BodyOptions{
		Name: "inner", BaseURL: baseURL, Endpoint: "/echo",
		RequestHook: func(*tokenforge.Context, *tokenforge.Request) error {
			return tokenforge.NewError(tokenforge.CodeOAuth, "inner refused")
		},
	}))
	var innerErr atomic.Value
	var outerFails atomic.Bool
	outer := okFetcher(t)(tokenforge.NewBodyFetcher(tokenforge.BodyOptions{
		Name: "outer", BaseURL: baseURL, Endpoint: "/echo",
		RequestHook: func(_ *tokenforge.Context, req *tokenforge.Request) error {
			_, err := inner.Fetch(nil)
			innerErr.Store(err.Error())
			if outerFails.Load() {
				return errors.New("outer refused")
			}
			return req.SetHeader("X-Outer", "1")
		},
	}))
	tok := okToken(t)(outer.Fetch(nil))
	if extra(t, tok, "header.x-outer") != "1" || innerErr.Load() != "tokenforge OAUTH: inner refused" {
		t.Errorf("inner error %v", innerErr.Load())
	}
	outerFails.Store(true)
	_, err := outer.Fetch(nil)
	if e := asError(t, err); e.Code != tokenforge.CodeCallback || e.Message != "outer refused" || e.Step != "outer" {
		t.Errorf("outer error: %+v", e)
	}
}

func TestCustomFetcher(t *testing.T) {
	handles := tokenforge.LiveHandles()
	var mode atomic.Int32
	var calls atomic.Int32
	f := okFetcher(t)(tokenforge.NewCustomFetcher(tokenforge.CustomOptions{
		Name: "custom", DependsOn: []string{"device"}, TTL: time.Hour,
		Fetch: func(ctx *tokenforge.Context) (*tokenforge.Token, error) {
			calls.Add(1)
			switch mode.Load() {
			case 0:
				dev := ctx.Get("device")
				defer dev.Close()
				return tokenforge.NewToken("custom-"+dev.AccessToken(), "Custom", time.Time{}, "")
			case 1:
				return nil, tokenforge.NewError(tokenforge.CodeOAuth, "proprietary auth said no")
			case 2:
				return nil, fmt.Errorf("backend: %w", errSentinel)
			case 3:
				return nil, nil
			case 4:
				var m map[string]int
				m["x"]++ // a runtime panic
			case 5:
				tok, _ := tokenforge.NewToken("x", "", time.Time{}, "")
				tok.Close()
				return tok, nil
			}
			return nil, nil
		},
	}))
	if f.Name() != "custom" || len(f.Dependencies()) != 1 || f.Dependencies()[0] != "device" {
		t.Errorf("name %q deps %v", f.Name(), f.Dependencies())
	}
	_, err := f.Fetch(nil)
	if asError(t, err).Code != tokenforge.CodeDependency || calls.Load() != 0 {
		t.Errorf("without its dependency: %v (calls %d)", err, calls.Load())
	}
	ctx := tokenforge.NewContext()
	defer ctx.Close()
	if err := ctx.Set("device", okToken(t)(tokenforge.NewToken("d1", "", time.Time{}, ""))); err != nil {
		t.Fatal(err)
	}
	tok := okToken(t)(f.Fetch(ctx))
	if tok.Authorization() != "Custom custom-d1" {
		t.Errorf("Authorization = %q", tok.Authorization())
	}
	if d := time.Until(tok.ExpiresAt()); d < 59*time.Minute || d > time.Hour {
		t.Errorf("the TTL did not apply: expires in %v", d)
	}
	want := []struct {
		code tokenforge.Code
		msg  string
	}{
		1: {tokenforge.CodeOAuth, "proprietary auth said no"},
		2: {tokenforge.CodeCallback, "backend: no way"},
		3: {tokenforge.CodeCallback, "custom fetcher returned no token (nil or closed) and no error"},
		4: {tokenforge.CodeCallback, "custom fetcher panicked: assignment to entry in nil map"},
		5: {tokenforge.CodeCallback, "custom fetcher returned no token (nil or closed) and no error"},
	}
	for m := 1; m < len(want); m++ {
		mode.Store(int32(m))
		tok, err := f.Fetch(ctx)
		e := asError(t, err)
		if tok != nil || e.Code != want[m].code || e.Message != want[m].msg || e.Step != "custom" {
			t.Errorf("mode %d: %+v, want %v %q", m, e, want[m].code, want[m].msg)
		}
		if m == 2 && !errors.Is(err, errSentinel) {
			t.Errorf("errors.Is(err, sentinel) is false for %v", err)
		}
	}
	f.Close()
	if got := tokenforge.LiveHandles(); got != handles {
		t.Errorf("handles after Close = %d, want %d", got, handles)
	}
}
