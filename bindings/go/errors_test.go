package tokenforge_test

import (
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	tokenforge "github.com/tokenforge/tokenforge/bindings/go"
)

func fetchErr(t *testing.T, f *tokenforge.Fetcher) *tokenforge.Error {
	t.Helper()
	tok, err := f.Fetch(nil)
	if tok != nil {
		t.Fatalf("fetch succeeded: %v", tok)
	}
	var e *tokenforge.Error
	if !errors.As(err, &e) {
		t.Fatalf("want a *tokenforge.Error, got %T %v", err, err)
	}
	return e
}

func TestErrorOAuth(t *testing.T) {
	e := fetchErr(t, okFetcher(t)(tokenforge.NewClientCredentialsFetcher(tokenforge.ClientCredentialsOptions{
		Name: "cc", TokenURL: baseURL + "/oauth/token", ClientID: "c", ClientSecret: "wrong",
	})))
	if e.Code != tokenforge.CodeOAuth || e.HTTPStatus != 401 || e.Step != "cc" || e.OAuthError != "invalid_client" ||
		e.OAuthDescription != "client authentication failed" || e.Retryable || e.RetryAfter >= 0 {
		t.Errorf("invalid client: %+v", e)
	}
	if !strings.HasPrefix(e.Error(), "tokenforge OAUTH: ") || !strings.Contains(e.Message, "invalid_client") ||
		strings.Contains(e.Message, "wrong") {
		t.Errorf("message: %q", e.Error())
	}
	e = fetchErr(t, okFetcher(t)(tokenforge.NewBodyFetcher(tokenforge.BodyOptions{
		Name: "busy", BaseURL: baseURL, Endpoint: "/oauth-error/503/temporarily_unavailable", Retry: &tokenforge.Retry{MaxAttempts: 1},
	})))
	// A 5xx is HTTP_STATUS whatever its body says (OAUTH reads "refused, do not retry"); the
	// OAuth fields are still filled.
	if e.Code != tokenforge.CodeHTTPStatus || e.HTTPStatus != 503 || e.OAuthError != "temporarily_unavailable" ||
		e.OAuthDescription != "described temporarily_unavailable" || !e.Retryable || e.Step != "busy" {
		t.Errorf("temporarily unavailable: %+v", e)
	}
}

func TestErrorHTTPStatus(t *testing.T) {
	e := fetchErr(t, okFetcher(t)(tokenforge.NewBodyFetcher(tokenforge.BodyOptions{Name: "nf", BaseURL: baseURL, Endpoint: "/status/404"})))
	if e.Code != tokenforge.CodeHTTPStatus || e.HTTPStatus != 404 || e.Step != "nf" || e.Retryable || e.OAuthError != "" ||
		e.OAuthDescription != "" || e.RetryAfter >= 0 || !strings.HasPrefix(e.Error(), "tokenforge HTTP_STATUS: ") {
		t.Errorf("404: %+v", e)
	}
	e = fetchErr(t, okFetcher(t)(tokenforge.NewBodyFetcher(tokenforge.BodyOptions{
		Name: "rl", BaseURL: baseURL, Endpoint: "/ratelimit/" + unique("rl") + "/7", Retry: &tokenforge.Retry{MaxAttempts: 1},
	})))
	if e.Code != tokenforge.CodeHTTPStatus || e.HTTPStatus != 429 || e.RetryAfter != 7*time.Second || !e.Retryable {
		t.Errorf("429: %+v", e)
	}
}

func TestErrorTransportTimeoutResponse(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String()
	l.Close()
	e := fetchErr(t, okFetcher(t)(tokenforge.NewBodyFetcher(tokenforge.BodyOptions{
		Name: "down", BaseURL: closed, Endpoint: "/token", Retry: &tokenforge.Retry{MaxAttempts: 1},
	})))
	if e.Code != tokenforge.CodeTransport || !e.Retryable || e.HTTPStatus != 0 {
		t.Errorf("connection refused: %+v", e)
	}
	e = fetchErr(t, okFetcher(t)(tokenforge.NewBodyFetcher(tokenforge.BodyOptions{
		Name: "slow", BaseURL: baseURL, Endpoint: "/slow/2000", Timeout: 200 * time.Millisecond,
	})))
	if e.Code != tokenforge.CodeTimeout || !e.Retryable {
		t.Errorf("timeout: %+v", e)
	}
	e = fetchErr(t, okFetcher(t)(tokenforge.NewBodyFetcher(tokenforge.BodyOptions{Name: "bad", BaseURL: baseURL, Endpoint: "/malformed/not-json"})))
	if e.Code != tokenforge.CodeResponse || e.Retryable {
		t.Errorf("not JSON: %+v", e)
	}
}
