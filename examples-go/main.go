// A program in another module that uses the tokenforge Go package (README, "Go").
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"

	tokenforge "github.com/tokenforge/tokenforge/bindings/go"
)

func main() {
	base := os.Getenv("TOKENFORGE_URL") // set by scripts/with-server.sh; yours: https://auth.example.com
	p, err := tokenforge.PipelineFromJSON(fmt.Sprintf(`{"steps":[{"name":"api","kind":"client_credentials",
	  "token_url":"%s/oauth/token","client_id":"my-client","client_secret":"${env:MY_CLIENT_SECRET}"}]}`, base))
	if err != nil {
		var tfErr *tokenforge.Error
		if errors.As(err, &tfErr) {
			log.Fatalf("step %q, field %q: %v", tfErr.Step, tfErr.Field, tfErr)
		}
		log.Fatal(err)
	}
	defer p.Close()

	tok, err := p.Token(context.Background(), "api") // cached while fresh; honours the context
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("Authorization:", tok.Authorization())

	// Any API: the Transport adds the Authorization header, and retries once after a 401.
	client := &http.Client{Transport: &tokenforge.Transport{Pipeline: p, Step: "api"}}
	resp, err := client.Get(base + "/_count/oauth/token")
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println("API answered", resp.Status, string(body))
}
