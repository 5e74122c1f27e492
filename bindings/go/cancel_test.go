package tokenforge_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	tokenforge "github.com/tokenforge/tokenforge/bindings/go"
)

// slowPipeline has one step answered after ms milliseconds, under a path no other test uses.
func slowPipeline(t *testing.T, ms int) (*tokenforge.Pipeline, string) {
	t.Helper()
	endpoint := fmt.Sprintf("/slow/%d", ms)
	p, err := tokenforge.PipelineFromJSON(fmt.Sprintf(`{"steps":[
	  {"name":"slow","kind":"body","base_url":%q,"endpoint":%q,"timeout_ms":10000}]}`, baseURL, endpoint))
	if err != nil {
		t.Fatal(err)
	}
	return p, endpoint
}

func TestPipelineTokenCancel(t *testing.T) {
	settleGC()
	objects := tokenforge.LiveObjects()
	p, endpoint := slowPipeline(t, 1001)
	defer p.Close()
	before := serverCount(t, endpoint)

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	tok, err := p.Token(ctx, "slow")
	if tok != nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Token = %v, %v; want context.DeadlineExceeded", tok, err)
	}
	if d := time.Since(start); d > 700*time.Millisecond {
		t.Errorf("cancellation took %v", d)
	}

	// A caller that waits joins the fetch still running: one upstream request in all.
	tok, err = p.Token(context.Background(), "slow")
	if err != nil || tok == nil {
		t.Fatalf("waiting caller: %v %v", tok, err)
	}
	if n := serverCount(t, endpoint); n != before+1 {
		t.Errorf("%d upstream requests, want 1", n-before)
	}
	tok.Close()
	tok = nil
	// The abandoned caller's token is released (by the garbage collector: pipeline tokens are
	// shared): the pipeline and the token its Go-side cache keeps remain.
	eventuallyGC(t, "the abandoned token to be released", func() bool { return tokenforge.LiveObjects() <= objects+2 })

	// An already cancelled context returns at once without fetching.
	done, cancelNow := context.WithCancel(context.Background())
	cancelNow()
	if _, err := p.Token(done, "slow"); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}
}

// Closing a pipeline while an abandoned fetch still runs frees it when that fetch ends.
func TestPipelineCloseDuringAbandonedFetch(t *testing.T) {
	settleGC()
	objects := tokenforge.LiveObjects()
	p, _ := slowPipeline(t, 500)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := p.Token(ctx, "slow"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Token: %v", err)
	}
	p.Close()
	if _, err := p.Token(context.Background(), "slow"); !errors.Is(err, tokenforge.ErrClosed) {
		t.Errorf("Token after Close: %v", err)
	}
	if tokenforge.LiveObjects() != objects+1 {
		t.Errorf("the pipeline was freed under its running fetch (%d objects, want %d)", tokenforge.LiveObjects(), objects+1)
	}
	eventuallyGC(t, "the pipeline and the fetch's token to be freed", func() bool { return tokenforge.LiveObjects() <= objects })
}
