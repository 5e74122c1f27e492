package tokenforge

/*
#include "shim.h"
*/
import "C"

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// EventKind says what a pipeline Event reports.
type EventKind int

// The event kinds.
const (
	// EventCacheHit: a fresh cached token was returned.
	EventCacheHit EventKind = C.TOKENFORGE_EVENT_KIND_CACHE_HIT
	// EventFetchStarted: an upstream fetch (or refresh grant) of the step began.
	EventFetchStarted EventKind = C.TOKENFORGE_EVENT_KIND_FETCH_STARTED
	// EventFetchSucceeded: a fetch gave a new token; Duration is how long it took.
	EventFetchSucceeded EventKind = C.TOKENFORGE_EVENT_KIND_FETCH_SUCCEEDED
	// EventFetchFailed: a fetch failed; Err says why.
	EventFetchFailed EventKind = C.TOKENFORGE_EVENT_KIND_FETCH_FAILED
	// EventRefreshed: the cached token was renewed through the refresh endpoint.
	EventRefreshed EventKind = C.TOKENFORGE_EVENT_KIND_REFRESHED
	// EventRetry: an HTTP attempt is about to be retried; Attempt is its number, Duration
	// the wait.
	EventRetry EventKind = C.TOKENFORGE_EVENT_KIND_RETRY
	// EventInvalidated: the step's cached token was dropped.
	EventInvalidated EventKind = C.TOKENFORGE_EVENT_KIND_INVALIDATED
	// EventStaleServed: a refresh failed while the old token was still valid, which was
	// served; Err says why.
	EventStaleServed EventKind = C.TOKENFORGE_EVENT_KIND_STALE_SERVED
	// EventLoadedFromStorage: a token was taken from storage instead of being fetched.
	EventLoadedFromStorage EventKind = C.TOKENFORGE_EVENT_KIND_LOADED_FROM_STORAGE
	// EventStorageFailed: the storage failed (read, write or delete); Err says why. The
	// get went on without it.
	EventStorageFailed EventKind = C.TOKENFORGE_EVENT_KIND_STORAGE_FAILED
)

var eventNames = [...]string{"CACHE_HIT", "FETCH_STARTED", "FETCH_SUCCEEDED", "FETCH_FAILED",
	"REFRESHED", "RETRY", "INVALIDATED", "STALE_SERVED", "LOADED_FROM_STORAGE", "STORAGE_FAILED"}

// String returns the kind's name, such as "CACHE_HIT".
func (k EventKind) String() string {
	if k >= 0 && int(k) < len(eventNames) {
		return eventNames[k]
	}
	return "UNKNOWN"
}

// Event is one thing that happened in a pipeline.
type Event struct {
	// Kind says what happened.
	Kind EventKind
	// Step is the step concerned.
	Step string
	// Duration is how long a fetch or refresh took, or the wait before a retry.
	Duration time.Duration
	// ExpiresAt is the expiry of the token concerned, the zero time when unknown.
	ExpiresAt time.Time
	// Attempt is, for EventRetry, the number of the attempt about to start (2 for the first
	// retry).
	Attempt int
	// Err is the error of EventFetchFailed, EventStaleServed and EventStorageFailed, nil
	// otherwise.
	Err *Error
	// Background is true for the events of a renewal running in the background, which no
	// caller waits for; false for a fetch a caller waits for, cache hits and invalidations.
	Background bool
}

// EventHook receives pipeline events. It runs synchronously where the event happened (on
// the caller's goroutine, or on a library thread for a parallel dependency fetch or a
// background renewal), possibly on several at once; it must be quick and must not call the
// same pipeline. A panic in it is recovered and ignored.
type EventHook func(ev Event)

func copyEvent(ev *C.tokenforge_event) Event {
	e := Event{
		Kind:       EventKind(ev.kind),
		Step:       goStr(ev.step),
		Duration:   time.Duration(ev.duration_us) * time.Microsecond,
		ExpiresAt:  msToTime(int64(ev.expires_at_ms)),
		Attempt:    int(ev.attempt),
		Background: bool(ev.background),
	}
	if ev.error != nil {
		e.Err = copyError(ev.error)
	}
	return e
}

// Pipeline holds steps, caches their tokens and renews them: Token returns the cached token
// while it is fresh, and otherwise fetches it (after its stale dependencies, independent
// ones in parallel) once for all concurrent callers. Configure it (Add, Set*, OnEvent) from
// one goroutine before its first use; then Token, Invalidate and InvalidateIf are safe for
// concurrent use. Close releases it (a fetch still running finishes first); otherwise a
// finalizer does when it is garbage collected.
type Pipeline struct {
	obj object
	// The tokens Token hands out again without calling the library while they are fresh:
	// step name -> its slot, copied on write. nil once closed.
	fast   atomic.Pointer[map[string]*fastStep]
	fastMu sync.Mutex
	closed bool // under fastMu
	hook   atomic.Pointer[EventHook]
}

// fastStep is a step's slot in the Go-side cache.
type fastStep struct {
	// The library's change counter of the step: C memory that stays readable for the life of
	// the process and never shows a value twice.
	changes *uint64
	cur     atomic.Pointer[fastToken]
}

// fastToken is a fresh token and how long it stays the step's answer.
type fastToken struct {
	tok     *Token
	changes uint64
	at      time.Time // with its monotonic reading
	fresh   time.Duration
}

var freePipeline = func(p unsafe.Pointer) { C.tokenforge_pipeline_free((*C.tokenforge_pipeline)(p)) }

func wrapPipeline(p *C.tokenforge_pipeline) *Pipeline {
	pl := &Pipeline{}
	pl.obj.init(unsafe.Pointer(p), freePipeline)
	runtime.SetFinalizer(pl, (*Pipeline).Close)
	return pl
}

// NewPipeline returns an empty pipeline (refresh margin 60 s, default lifetime 10 min).
func NewPipeline() *Pipeline {
	return wrapPipeline(C.tokenforge_pipeline_new())
}

// PipelineFromJSON builds a validated pipeline from its JSON description (the format is in
// the project README): steps of kind body, header or client_credentials with their options,
// dependencies, templates and refresh endpoints, and the freshness rules. "${env:NAME}" in a
// string is replaced by that environment variable. Errors are CodeConfig, naming the step
// and field.
func PipelineFromJSON(json string) (*Pipeline, error) {
	if hasNUL(json) {
		return nil, invalidArgument("JSON must not contain NUL")
	}
	j := cstr(json)
	defer freeStr(j)
	var out *C.tokenforge_pipeline
	var cerr *C.tokenforge_error
	if err := takeError(C.tokenforge_pipeline_from_json(j, &out, &cerr), cerr); err != nil {
		return nil, err
	}
	return wrapPipeline(out), nil
}

// acquire returns the C pipeline, held until release.
func (p *Pipeline) acquire() (*C.tokenforge_pipeline, bool) {
	if p == nil {
		return nil, false
	}
	ptr, ok := p.obj.acquire()
	return (*C.tokenforge_pipeline)(ptr), ok
}

// call runs one fallible call on the C pipeline.
func (p *Pipeline) call(f func(*C.tokenforge_pipeline, **C.tokenforge_error) uint32) error {
	ptr, ok := p.acquire()
	if !ok {
		return ErrClosed
	}
	var cerr *C.tokenforge_error
	rc := f(ptr, &cerr)
	p.obj.release()
	runtime.KeepAlive(p)
	return takeError(rc, cerr)
}

// Add adds a step (in any order). The pipeline keeps its own reference to f. CodeConfig
// when a step of that name exists.
func (p *Pipeline) Add(f *Fetcher) error {
	fp, ok := f.acquire()
	if !ok {
		return invalidArgument("Pipeline.Add: the fetcher is nil or closed")
	}
	defer f.obj.release()
	err := p.call(func(ptr *C.tokenforge_pipeline, e **C.tokenforge_error) uint32 {
		return C.tokenforge_pipeline_add(ptr, fp, e)
	})
	runtime.KeepAlive(f)
	return err
}

// AddLive adds a step while other goroutines use the pipeline (their Token calls never wait
// for it). The pipeline with the step must be valid, or nothing changes: CodeConfig for a
// duplicate name, a missing dependency, a cycle or too deep a chain. Each call copies the
// step table; before first use, Add is cheaper. Safe for concurrent use.
func (p *Pipeline) AddLive(f *Fetcher) error {
	fp, ok := f.acquire()
	if !ok {
		return invalidArgument("Pipeline.AddLive: the fetcher is nil or closed")
	}
	defer f.obj.release()
	err := p.call(func(ptr *C.tokenforge_pipeline, e **C.tokenforge_error) uint32 {
		return C.tokenforge_pipeline_add_live(ptr, fp, e)
	})
	runtime.KeepAlive(f)
	return err
}

// Remove drops step while other goroutines use the pipeline, with its cached and stored
// tokens. CodeConfig while other steps depend on it (remove them first), CodeInvalidArgument
// for an unknown step. Safe for concurrent use.
func (p *Pipeline) Remove(step string) error {
	if hasNUL(step) {
		return invalidArgument("step name must not contain NUL")
	}
	s := cstr(step)
	defer freeStr(s)
	err := p.call(func(ptr *C.tokenforge_pipeline, e **C.tokenforge_error) uint32 {
		return C.tokenforge_pipeline_remove(ptr, s, e)
	})
	if err == nil {
		// A step of that name added later has a counter of its own: forget this one's slot.
		p.fastMu.Lock()
		if old := p.fast.Load(); old != nil && (*old)[step] != nil {
			m := make(map[string]*fastStep, len(*old))
			for k, v := range *old {
				if k != step {
					m[k] = v
				}
			}
			p.fast.Store(&m)
		}
		p.fastMu.Unlock()
	}
	return err
}

// Validate checks that every dependency is a step and that there is no cycle (CodeConfig,
// naming the steps). Token checks the same on first use.
func (p *Pipeline) Validate() error {
	return p.call(func(ptr *C.tokenforge_pipeline, e **C.tokenforge_error) uint32 {
		return C.tokenforge_pipeline_validate(ptr, e)
	})
}

// SetStorage makes the pipeline load tokens from s (under "<keyPrefix>:<step>"; keyPrefix
// "" means "tokenforge") before any fetch and write them after each fetch; invalidation
// deletes them. The pipeline keeps its own reference to s. A failing store is reported to
// the step's error hook; the fetched token is still returned.
func (p *Pipeline) SetStorage(s *Storage, keyPrefix string) error {
	sp, ok := s.acquire()
	if !ok {
		return invalidArgument("Pipeline.SetStorage: the storage is nil or closed")
	}
	defer s.obj.release()
	if hasNUL(keyPrefix) {
		return invalidArgument("key prefix must not contain NUL")
	}
	prefix := cstrOrNil(keyPrefix)
	defer freeStr(prefix)
	err := p.call(func(ptr *C.tokenforge_pipeline, e **C.tokenforge_error) uint32 {
		return C.tokenforge_pipeline_set_storage(ptr, sp, prefix, e)
	})
	runtime.KeepAlive(s)
	return err
}

// SetRefreshMargin makes a cached token renewed when less than min(margin, half its
// lifetime) is left (default 60 s). CodeInvalidArgument when negative.
func (p *Pipeline) SetRefreshMargin(margin time.Duration) error {
	return p.call(func(ptr *C.tokenforge_pipeline, e **C.tokenforge_error) uint32 {
		return C.tokenforge_pipeline_set_refresh_margin_ms(ptr, C.int64_t(ceilMs(margin)), e)
	})
}

// SetBackgroundRefresh says whether a token due for renewal but still valid is renewed in
// the background (true, the default: no Token call waits while a valid token exists) or by
// the caller that finds it due (false: the library starts no thread, and independent
// dependencies are fetched one after another). Configure before first use.
func (p *Pipeline) SetBackgroundRefresh(background bool) error {
	return p.call(func(ptr *C.tokenforge_pipeline, e **C.tokenforge_error) uint32 {
		return C.tokenforge_pipeline_set_background_refresh(ptr, C.bool(background), e)
	})
}

// SetDefaultLifetime sets the lifetime given to tokens with no known expiry and no TTL
// (default 10 min). CodeInvalidArgument unless positive.
func (p *Pipeline) SetDefaultLifetime(lifetime time.Duration) error {
	return p.call(func(ptr *C.tokenforge_pipeline, e **C.tokenforge_error) uint32 {
		return C.tokenforge_pipeline_set_default_lifetime_ms(ptr, C.int64_t(ceilMs(lifetime)), e)
	})
}

// OnEvent sets the hook that receives every cache hit, fetch start, success and failure,
// refresh, retry, invalidation, stale token served and token loaded from storage.
func (p *Pipeline) OnEvent(hook EventHook) error {
	if hook == nil {
		return invalidArgument("Pipeline.OnEvent: hook is nil")
	}
	ptr, ok := p.acquire()
	if !ok {
		return ErrClosed
	}
	var cerr *C.tokenforge_error
	rc := C.tf_go_pipeline_set_event_hook(ptr, newHandle(hook), &cerr)
	p.obj.release()
	runtime.KeepAlive(p)
	if err := takeError(rc, cerr); err != nil {
		return err
	}
	p.hook.Store(&hook) // cache hits served in Go are reported from Go
	return nil
}

// get runs tokenforge_pipeline_get_cacheable on the held pointer ptr, and keeps a fresh
// token for Token to hand out again.
func (p *Pipeline) get(ptr *C.tokenforge_pipeline, step string) (*Token, error) {
	s := cstr(step)
	defer freeStr(s)
	var out *C.tokenforge_token
	var cerr *C.tokenforge_error
	var changes C.uint64_t
	var freshUntil C.int64_t
	rc := C.tokenforge_pipeline_get_cacheable(ptr, s, &out, &changes, &freshUntil, &cerr)
	if err := takeError(rc, cerr); err != nil {
		C.tokenforge_token_free(out)
		runtime.KeepAlive(p)
		return nil, err
	}
	tok := wrapSharedToken(out)
	if fresh := time.Until(time.UnixMilli(int64(freshUntil))); freshUntil > 0 && fresh > 0 {
		if slot := p.slot(ptr, step, s); slot != nil {
			slot.cur.Store(&fastToken{tok: tok, changes: uint64(changes), at: time.Now(), fresh: fresh})
		}
	}
	runtime.KeepAlive(p)
	return tok, nil
}

// slot returns the cache slot of step, making it on first use; nil once closed.
func (p *Pipeline) slot(ptr *C.tokenforge_pipeline, step string, cstep *C.char) *fastStep {
	if m := p.fast.Load(); m != nil {
		if s := (*m)[step]; s != nil {
			return s
		}
	}
	p.fastMu.Lock()
	defer p.fastMu.Unlock()
	if p.closed {
		return nil
	}
	old := p.fast.Load()
	if old != nil {
		if s := (*old)[step]; s != nil {
			return s
		}
	}
	var counter *C.uint64_t
	if C.tokenforge_pipeline_step_changes(ptr, cstep, &counter, nil) != C.TOKENFORGE_RESULT_OK {
		return nil
	}
	s := &fastStep{changes: (*uint64)(unsafe.Pointer(counter))}
	m := make(map[string]*fastStep, 1)
	if old != nil {
		for k, v := range *old {
			m[k] = v
		}
	}
	m[step] = s
	p.fast.Store(&m)
	return s
}

// cached returns the token Token may hand out again for step, nil when there is none.
func (p *Pipeline) cached(step string) *Token {
	m := p.fast.Load()
	if m == nil {
		return nil
	}
	s := (*m)[step]
	if s == nil {
		return nil
	}
	c := s.cur.Load()
	if c == nil || atomic.LoadUint64(s.changes) != c.changes || time.Since(c.at) >= c.fresh {
		return nil
	}
	if h := p.hook.Load(); h != nil {
		emitCacheHit(*h, step, c.tok.expiresAt)
	}
	return c.tok
}

// emitCacheHit reports a cache hit served in Go, as the library reports its own.
func emitCacheHit(h EventHook, step string, expiresAt time.Time) {
	defer func() { _ = recover() }()
	h(Event{Kind: EventCacheHit, Step: step, ExpiresAt: expiresAt})
}

// Token returns the token of step: the cached one while fresh, otherwise a new one (see
// Pipeline). Errors: CodeInvalidArgument (unknown step), CodeConfig (missing dependency,
// cycle, or a hook of this step asking for this step), CodeDependency, CodeTimeout and the
// fetch errors.
//
// When ctx is cancelled or its deadline passes first, Token returns ctx.Err() at once; the
// fetch itself goes on (it is bounded by the fetch deadlines and serves the other callers
// and the cache), and the token it gives this caller is released.
//
// A fresh token is handed out again from the Go side without calling the library (no
// allocation, no lock; the library's change counter of the step tells when it has a new
// one). The token is shared by the callers (see Token).
func (p *Pipeline) Token(ctx context.Context, step string) (*Token, error) {
	if p != nil {
		if tok := p.cached(step); tok != nil {
			if ctx != nil {
				select {
				case <-ctx.Done(): // a non-blocking receive: no lock while not done
					return nil, ctx.Err()
				default:
				}
			}
			return tok, nil
		}
	}
	return p.token(ctx, step)
}

// token is Token when the Go side has no fresh token.
func (p *Pipeline) token(ctx context.Context, step string) (*Token, error) {
	if hasNUL(step) {
		return nil, invalidArgument("step name must not contain NUL")
	}
	if ctx == nil {
		ctx = context.Background()
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ptr, ok := p.acquire()
	if !ok {
		return nil, ErrClosed
	}
	if ctx.Done() == nil { // cannot be cancelled: no goroutine needed
		defer p.obj.release()
		return p.get(ptr, step)
	}
	w := &tokenWait{done: make(chan struct{})}
	go func() {
		t, err := p.get(ptr, step)
		p.obj.release()
		w.finish(t, err)
	}()
	select {
	case <-w.done:
		return w.tok, w.err
	case <-ctx.Done():
		if w.abandon() {
			return nil, ctx.Err()
		}
		<-w.done // the result arrived meanwhile: still give up, releasing it
		if w.tok != nil {
			w.tok.Close()
		}
		return nil, ctx.Err()
	}
}

// tokenWait hands the result of a background get to its caller, or releases it when the
// caller has gone.
type tokenWait struct {
	mu        sync.Mutex
	abandoned bool
	finished  bool
	done      chan struct{}
	tok       *Token
	err       error
}

func (w *tokenWait) finish(t *Token, err error) {
	w.mu.Lock()
	if w.abandoned {
		w.mu.Unlock()
		t.Close()
		return
	}
	w.tok, w.err, w.finished = t, err, true
	w.mu.Unlock()
	close(w.done)
}

// abandon reports true when the result has not arrived (finish will release it), false
// when it has (the caller must release it).
func (w *tokenWait) abandon() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.finished {
		return false
	}
	w.abandoned = true
	return true
}

// Invalidate drops the cached (and stored) token of step and of every step depending on
// it, and ends any backoff.
func (p *Pipeline) Invalidate(step string) error {
	if hasNUL(step) {
		return invalidArgument("step name must not contain NUL")
	}
	s := cstr(step)
	defer freeStr(s)
	return p.call(func(ptr *C.tokenforge_pipeline, e **C.tokenforge_error) uint32 {
		return C.tokenforge_pipeline_invalidate(ptr, s, e)
	})
}

// InvalidateIf acts as Invalidate, but only when the cached token of step still has the
// given access token, so that many callers retrying after a 401 cause one refetch. It
// reports whether it invalidated.
func (p *Pipeline) InvalidateIf(step, accessToken string) (bool, error) {
	if hasNUL(step) || hasNUL(accessToken) {
		return false, invalidArgument("step name and access token must not contain NUL")
	}
	s, a := cstr(step), cstr(accessToken)
	defer freeStr(s)
	defer freeStr(a)
	var invalidated C.bool
	err := p.call(func(ptr *C.tokenforge_pipeline, e **C.tokenforge_error) uint32 {
		return C.tokenforge_pipeline_invalidate_if(ptr, s, a, &invalidated, e)
	})
	return bool(invalidated), err
}

// Close frees the pipeline and its cached tokens; fetchers and storage it shares stay
// their owners'. It is idempotent; a call still running (such as a fetch that
// Token left behind after a cancellation) finishes before the memory is freed.
func (p *Pipeline) Close() {
	if p == nil {
		return
	}
	p.fastMu.Lock()
	p.closed = true
	p.fast.Store(nil)
	p.fastMu.Unlock()
	if p.obj.close() {
		runtime.SetFinalizer(p, nil)
	}
}
