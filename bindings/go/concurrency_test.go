package tokenforge_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	tokenforge "github.com/tokenforge/tokenforge/bindings/go"
)

// Many goroutines asking one pipeline for a stale step cause one upstream fetch.
func TestPipelineConcurrent(t *testing.T) {
	p := mustPipeline(t, threeSteps())
	before := serverCount(t, "/user/auth")
	const goroutines, calls = 16, 100
	var wg sync.WaitGroup
	tokens := make(chan string, goroutines*calls)
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < calls; i++ {
				tok, err := p.Token(context.Background(), "user")
				if err != nil {
					t.Error(err)
					return
				}
				tokens <- tok.AccessToken()
				tok.Close()
			}
		}()
	}
	wg.Wait()
	close(tokens)
	seen := map[string]int{}
	for tok := range tokens {
		seen[tok]++
	}
	if len(seen) != 1 {
		t.Errorf("distinct tokens: %v", seen)
	}
	if n := serverCount(t, "/user/auth"); n != before+1 {
		t.Errorf("%d upstream fetches for %d calls, want 1", n-before, goroutines*calls)
	}
}

// One fetcher used by many goroutines runs its hook on all of them.
func TestFetcherConcurrent(t *testing.T) {
	var calls atomic.Int32
	f := okFetcher(t)(tokenforge.NewBodyFetcher(tokenforge.BodyOptions{
		Name: "t", BaseURL: baseURL, Endpoint: "/echo", DependsOn: []string{"g"},
		RequestHook: func(ctx *tokenforge.Context, req *tokenforge.Request) error {
			calls.Add(1)
			g := ctx.Get("g")
			defer g.Close()
			return req.SetHeader("X-Goroutine", g.AccessToken())
		},
	}))
	const goroutines, fetches = 8, 20
	var wg sync.WaitGroup
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			ctx := tokenforge.NewContext()
			defer ctx.Close()
			id := fmt.Sprintf("g%d", g)
			tok, _ := tokenforge.NewToken(id, "", time.Time{}, "")
			if err := ctx.Set("g", tok); err != nil {
				t.Error(err)
				return
			}
			tok.Close()
			for i := 0; i < fetches; i++ {
				got, err := f.Fetch(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				if v, _ := got.Extra("header.x-goroutine"); v != id {
					t.Errorf("goroutine %s got the header of %q", id, v)
				}
				got.Close()
			}
		}(g)
	}
	wg.Wait()
	if calls.Load() != goroutines*fetches {
		t.Errorf("hook calls = %d, want %d", calls.Load(), goroutines*fetches)
	}
}

// A slow custom step asked for by many goroutines at once runs once (single flight).
func TestCustomFetcherSingleFlight(t *testing.T) {
	var calls atomic.Int32
	p := tokenforge.NewPipeline()
	defer p.Close()
	f := okFetcher(t)(tokenforge.NewCustomFetcher(tokenforge.CustomOptions{
		Name: "slow",
		Fetch: func(*tokenforge.Context) (*tokenforge.Token, error) {
			n := calls.Add(1)
			time.Sleep(100 * time.Millisecond)
			return tokenforge.NewToken(fmt.Sprintf("slow-%d", n), "", time.Now().Add(time.Hour), "")
		},
	}))
	if err := p.Add(f); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tok, err := p.Token(context.Background(), "slow")
			if err != nil || tok.AccessToken() != "slow-1" {
				t.Errorf("got %v, %v", tok, err)
			}
			tok.Close()
		}()
	}
	wg.Wait()
	if calls.Load() != 1 {
		t.Errorf("custom fetch ran %d times, want 1", calls.Load())
	}
}
