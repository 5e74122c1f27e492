package tokenforge_test

import (
	"context"
	"errors"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	tokenforge "github.com/tokenforge/tokenforge/bindings/go"
)

func TestMemoryStorage(t *testing.T) {
	s := tokenforge.NewMemoryStorage()
	defer s.Close()
	tok := okToken(t)(tokenforge.NewToken("stored", "", time.Time{}, "rt"))
	if err := s.Store("app:x", tok); err != nil {
		t.Fatal(err)
	}
	got, err := s.Retrieve("app:x")
	if err != nil || got == nil || got.AccessToken() != "stored" || got.RefreshToken() != "rt" {
		t.Fatalf("Retrieve = %v, %v", got, err)
	}
	got.Close()
	if got, err := s.Retrieve("absent"); got != nil || err != nil {
		t.Errorf("Retrieve(absent) = %v, %v", got, err)
	}
	if err := s.Delete("app:x"); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Retrieve("app:x"); got != nil || err != nil {
		t.Errorf("after Delete: %v, %v", got, err)
	}
	if err := s.Delete("never"); err != nil {
		t.Errorf("Delete(absent): %v", err)
	}
	if err := s.Store("k", nil); asError(t, err).Code != tokenforge.CodeInvalidArgument {
		t.Errorf("Store(nil): %v", err)
	}
}

func TestStorageReuse(t *testing.T) {
	s := tokenforge.NewMemoryStorage()
	p1 := mustPipeline(t, threeSteps())
	p2 := mustPipeline(t, threeSteps())
	for _, p := range []*tokenforge.Pipeline{p1, p2} {
		if err := p.SetStorage(s, "svc"); err != nil {
			t.Fatal(err)
		}
	}
	s.Close() // the pipelines keep it
	var log eventLog
	if err := p2.OnEvent(log.hook); err != nil {
		t.Fatal(err)
	}
	t1 := okToken(t)(p1.Token(context.Background(), "user"))
	before := serverCount(t, "/user/auth")
	t2 := okToken(t)(p2.Token(context.Background(), "user"))
	if serverCount(t, "/user/auth") != before || t1.AccessToken() != t2.AccessToken() {
		t.Errorf("the second pipeline fetched again: %q vs %q", t1.AccessToken(), t2.AccessToken())
	}
	if log.count(tokenforge.EventLoadedFromStorage) == 0 {
		t.Error("no LOADED_FROM_STORAGE event")
	}
}

// mapBackend is a StorageBackend in a Go map, with switchable failures.
type mapBackend struct {
	mu        sync.Mutex
	tokens    map[string]*tokenforge.Token
	failStore bool
	panicGet  bool
	deletes   int
}

func (m *mapBackend) Store(key string, t *tokenforge.Token) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failStore {
		t.Close()
		return errors.New("disk full")
	}
	m.tokens[key].Close() // nil-safe
	m.tokens[key] = t
	return nil
}

func (m *mapBackend) Retrieve(key string) (*tokenforge.Token, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.panicGet {
		panic("corrupt index")
	}
	return m.tokens[key], nil
}

func (m *mapBackend) Delete(key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.deletes++
	m.tokens[key].Close()
	delete(m.tokens, key)
	return nil
}

func (m *mapBackend) keys() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var k []string
	for key := range m.tokens {
		k = append(k, key)
	}
	sort.Strings(k)
	return k
}

func TestCustomStorage(t *testing.T) {
	handles := tokenforge.LiveHandles()
	backend := &mapBackend{tokens: map[string]*tokenforge.Token{}}
	s, err := tokenforge.NewStorage(backend)
	if err != nil {
		t.Fatal(err)
	}
	tok := okToken(t)(tokenforge.NewToken("direct", "", time.Time{}, ""))
	if err := s.Store("k", tok); err != nil {
		t.Fatal(err)
	}
	got, err := s.Retrieve("k")
	if err != nil || got == nil || got.AccessToken() != "direct" {
		t.Fatalf("Retrieve = %v, %v", got, err)
	}
	got.Close()
	if err := s.Delete("k"); err != nil || len(backend.keys()) != 0 {
		t.Fatalf("Delete: %v, keys %v", err, backend.keys())
	}

	p := mustPipeline(t, threeSteps())
	if err := p.SetStorage(s, ""); err != nil {
		t.Fatal(err)
	}
	s.Close() // the pipeline keeps it
	user := okToken(t)(p.Token(context.Background(), "user"))
	if keys := strings.Join(backend.keys(), ","); keys != "tokenforge:app,tokenforge:device,tokenforge:user" {
		t.Errorf("stored keys: %s", keys)
	}
	backend.mu.Lock()
	stored := backend.tokens["tokenforge:user"].AccessToken()
	backend.mu.Unlock()
	if stored != user.AccessToken() {
		t.Errorf("stored %q, got %q", stored, user.AccessToken())
	}
	if err := p.Invalidate("app"); err != nil {
		t.Fatal(err)
	}
	if keys := strings.Join(backend.keys(), ","); keys != "tokenforge:device" || backend.deletes < 2 {
		t.Errorf("after invalidating app (and user, which depends on it): %s, %d deletes", keys, backend.deletes)
	}

	s2, err := tokenforge.NewStorage(backend)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	backend.failStore = true
	if e := asError(t, s2.Store("k", tok)); e.Code != tokenforge.CodeStorage || !strings.Contains(e.Message, "disk full") {
		t.Errorf("failing store: %+v", e)
	}
	backend.failStore = false
	backend.panicGet = true
	_, err = s2.Retrieve("k")
	if e := asError(t, err); e.Code != tokenforge.CodeStorage || !strings.Contains(e.Message, "corrupt index") {
		t.Errorf("panicking retrieve: %+v", e)
	}
	backend.panicGet = false
	s2.Close()
	p.Close()
	if got := tokenforge.LiveHandles(); got != handles {
		t.Errorf("storage handles not released: %d, want %d", got, handles)
	}
	if _, err := tokenforge.NewStorage(nil); asError(t, err).Code != tokenforge.CodeInvalidArgument {
		t.Errorf("NewStorage(nil): %v", err)
	}
}
