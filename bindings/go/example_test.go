package tokenforge_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"time"

	tokenforge "github.com/tokenforge/tokenforge/bindings/go"
)

// A pipeline from JSON, used through an http.Client. (Examples are compiled, not run: they
// would need a token server.)
func Example() {
	p, err := tokenforge.PipelineFromJSON(`{"steps":[
	  {"name":"app","kind":"client_credentials","token_url":"https://auth.example.com/oauth/token",
	   "client_id":"my-app","client_secret":"${env:APP_SECRET}","scope":"read"}]}`)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	defer p.Close()
	client := &http.Client{Transport: &tokenforge.Transport{Pipeline: p, Step: "app"}}
	resp, err := client.Get("https://api.example.com/things")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	resp.Body.Close()
}

// Steps built in Go, one of them a Go function, with a hook that shapes the request.
func ExampleNewPipeline() {
	device, err := tokenforge.NewHeaderFetcher(tokenforge.HeaderOptions{
		Name: "device", BaseURL: "https://auth.example.com", Endpoint: "/device/register",
		Headers: map[string]string{"X-Device-ID": "device-123"}, TokenHeader: "X-Device-Token", TTL: 24 * time.Hour,
	})
	if err != nil {
		return
	}
	defer device.Close()
	user, err := tokenforge.NewCustomFetcher(tokenforge.CustomOptions{
		Name: "user", DependsOn: []string{"device"},
		Fetch: func(ctx *tokenforge.Context) (*tokenforge.Token, error) {
			dev := ctx.Get("device")
			defer dev.Close()
			return tokenforge.NewToken("user-of-"+dev.AccessToken(), "Bearer", time.Now().Add(time.Hour), "")
		},
	})
	if err != nil {
		return
	}
	defer user.Close()

	p := tokenforge.NewPipeline()
	defer p.Close()
	for _, f := range []*tokenforge.Fetcher{device, user} {
		if err := p.Add(f); err != nil {
			return
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	tok, err := p.Token(ctx, "user")
	if err != nil {
		return
	}
	defer tok.Close()
	fmt.Println(tok.Authorization())
}

// Inspecting a failure with errors.As.
func ExampleError() {
	f, err := tokenforge.NewClientCredentialsFetcher(tokenforge.ClientCredentialsOptions{
		Name: "app", TokenURL: "https://auth.example.com/oauth/token", ClientID: "my-app", ClientSecret: "wrong",
	})
	if err != nil {
		return
	}
	defer f.Close()
	_, err = f.Fetch(nil)
	var e *tokenforge.Error
	if errors.As(err, &e) && e.Code == tokenforge.CodeOAuth {
		fmt.Println(e.Code, e.HTTPStatus, e.OAuthError, e.Retryable) // OAUTH 401 invalid_client false
	}
}
