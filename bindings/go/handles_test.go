package tokenforge_test

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"

	tokenforge "github.com/tokenforge/tokenforge/bindings/go"
)

// settleGC runs the finalizers of what earlier tests dropped, until the count of live
// objects stops changing, so that counts taken afterwards are not disturbed by them.
func settleGC() {
	last := int64(-1)
	for i := 0; i < 50; i++ {
		runtime.GC()
		time.Sleep(5 * time.Millisecond)
		n := tokenforge.LiveObjects()
		if n == last {
			return
		}
		last = n
	}
}

// Every handle given to the library is released when its last owner goes, failed calls
// included.
func TestHandlesReleased(t *testing.T) {
	settleGC()
	base := tokenforge.LiveHandles()
	noop := func(*tokenforge.Context, *tokenforge.Request) error { return nil }
	refuse := func(*tokenforge.Context, *tokenforge.Request) error { return errors.New("refused") }

	body, err := tokenforge.NewBodyFetcher(tokenforge.BodyOptions{
		Name: "body", BaseURL: baseURL, Endpoint: "/echo", RequestHook: refuse,
		ErrorHook: func(*tokenforge.Error, *tokenforge.Context) {},
	})
	if err != nil {
		t.Fatal(err)
	}
	custom, err := tokenforge.NewCustomFetcher(tokenforge.CustomOptions{
		Name: "custom", Fetch: func(*tokenforge.Context) (*tokenforge.Token, error) { return nil, errors.New("no") },
	})
	if err != nil {
		t.Fatal(err)
	}
	storage, err := tokenforge.NewStorage(&mapBackend{tokens: map[string]*tokenforge.Token{}})
	if err != nil {
		t.Fatal(err)
	}
	p := tokenforge.NewPipeline()
	if err := p.OnEvent(func(tokenforge.Event) {}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []*tokenforge.Fetcher{body, custom} {
		if err := p.Add(f); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.SetStorage(storage, "h"); err != nil {
		t.Fatal(err)
	}
	if got := tokenforge.LiveHandles(); got != base+5 {
		t.Fatalf("handles = %d, want %d", got, base+5)
	}
	body.Close()
	custom.Close()
	storage.Close()
	for i := 0; i < 3; i++ { // failing hooks leave nothing behind
		if _, err := p.Token(context.Background(), "body"); err == nil {
			t.Error("refusing hook: no error")
		}
		if err := p.Invalidate("body"); err != nil {
			t.Error(err)
		}
		if _, err := p.Token(context.Background(), "custom"); err == nil {
			t.Error("failing custom fetcher: no error")
		}
		if err := p.Invalidate("custom"); err != nil {
			t.Error(err)
		}
	}
	if got := tokenforge.LiveHandles(); got != base+5 {
		t.Errorf("handles held by the pipeline = %d, want %d", got, base+5)
	}
	p.Close()
	if got := tokenforge.LiveHandles(); got != base {
		t.Errorf("handles after closing the pipeline = %d, want %d", got, base)
	}

	// Failed constructions release at once what they were given.
	if _, err := tokenforge.NewBodyFetcher(tokenforge.BodyOptions{Name: "x", BaseURL: "bad url", RequestHook: noop}); err == nil {
		t.Error("bad URL accepted")
	}
	if _, err := tokenforge.NewCustomFetcher(tokenforge.CustomOptions{Name: "", Fetch: func(*tokenforge.Context) (*tokenforge.Token, error) { return nil, nil }}); err == nil {
		t.Error("empty name accepted")
	}
	if err := tokenforge.NewPipeline().OnEvent(nil); err == nil {
		t.Error("nil event hook accepted")
	}
	if got := tokenforge.LiveHandles(); got != base {
		t.Errorf("handles after failed constructions = %d, want %d", got, base)
	}
}

// What is dropped without Close is released by finalizers, hooks included.
func TestFinalizers(t *testing.T) {
	settleGC()
	objects, handles := tokenforge.LiveObjects(), tokenforge.LiveHandles()
	func() {
		for i := 0; i < 50; i++ {
			if _, err := tokenforge.NewToken("dropped", "", time.Time{}, ""); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := tokenforge.NewBodyFetcher(tokenforge.BodyOptions{
			Name: "dropped", BaseURL: baseURL, Endpoint: "/echo",
			RequestHook: func(*tokenforge.Context, *tokenforge.Request) error { return nil },
		}); err != nil {
			t.Fatal(err)
		}
		c := tokenforge.NewContext()
		tok, _ := tokenforge.NewToken("in-context", "", time.Time{}, "")
		if err := c.Set("x", tok); err != nil {
			t.Fatal(err)
		}
		tokenforge.NewPipeline()
		tokenforge.NewMemoryStorage()
	}()
	if got := tokenforge.LiveObjects(); got < objects+55 {
		t.Fatalf("live objects = %d, want at least %d", got, objects+55)
	}
	eventuallyGC(t, "finalizers to free the dropped objects", func() bool {
		return tokenforge.LiveObjects() <= objects && tokenforge.LiveHandles() <= handles
	})
}
