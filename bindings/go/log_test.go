package tokenforge_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

	tokenforge "github.com/tokenforge/tokenforge/bindings/go"
)

// syncBuffer is a bytes.Buffer that records may be written to from library threads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestSetLoggerMapsLinesOntoSlog(t *testing.T) {
	var out syncBuffer
	logger := slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if err := tokenforge.SetLogger(logger); err != nil {
		t.Fatal(err)
	}
	defer tokenforge.SetLogger(nil)
	p := mustPipeline(t, fmt.Sprintf(`{"steps":[
	  {"name":"logged","kind":"client_credentials","token_url":"%[1]s/oauth/token","client_id":"c","client_secret":"c-secret"},
	  {"name":"refused","kind":"body","base_url":%[1]q,"endpoint":"/oauth-error/400/invalid_client"}]}`, baseURL))
	tok := okToken(t)(p.Token(context.Background(), "logged"))
	okToken(t)(p.Token(context.Background(), "logged")) // a cache hit: Debug, not logged at Info
	if _, err := p.Token(context.Background(), "refused"); err == nil {
		t.Fatal("refused step fetched")
	}
	text := out.String()
	for _, want := range []string{
		`level=INFO msg="tokenforge fetch_succeeded" step=logged event=fetch_succeeded took_ms=`,
		`level=ERROR msg="tokenforge fetch_failed" step=refused event=fetch_failed`,
		`code=OAUTH status=400 oauth_error=invalid_client`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("missing %q in:\n%s", want, text)
		}
	}
	if strings.Contains(text, "cache_hit") || strings.Contains(text, tok.AccessToken()) || strings.Contains(text, "c-secret") {
		t.Errorf("a debug line or a secret in:\n%s", text)
	}
	// Back to TOKENFORGE_LOG (unset in the tests): nothing more reaches the logger.
	if err := tokenforge.SetLogger(nil); err != nil {
		t.Fatal(err)
	}
	before := out.String()
	p.Invalidate("logged")
	okToken(t)(p.Token(context.Background(), "logged"))
	if out.String() != before {
		t.Errorf("lines after SetLogger(nil):\n%s", strings.TrimPrefix(out.String(), before))
	}
}
