package tokenforge_test

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/pem"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	tokenforge "github.com/tokenforge/tokenforge/bindings/go"
)

// rsaKey is the repository's test RSA key (tests/data).
var rsaKey = filepath.Join("..", "..", "tests", "data", "test-rsa-key.pem")

// registerJWTKey tells the test server (HTTP and HTTPS share nothing, so both) which key
// verifies the assertions of issuer.
func registerJWTKey(t *testing.T, issuer, alg, keyFile string) {
	t.Helper()
	pem, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, base := range []string{baseURL, tlsURL} {
		f := okFetcher(t)(tokenforge.NewBodyFetcher(tokenforge.BodyOptions{
			Name: "register", BaseURL: base, Endpoint: "/_jwt_key",
			Data:     map[string]string{"issuer": issuer, "alg": alg, "key": string(pem)},
			Identity: tokenforge.Identity{CAFile: caFile},
		}))
		if _, err := f.Fetch(nil); err != nil {
			t.Fatal(err)
		}
	}
}

// A private CA through CAFile; without it, a TLS error naming the reason.
func TestPrivateCA(t *testing.T) {
	f := okFetcher(t)(tokenforge.NewBodyFetcher(tokenforge.BodyOptions{
		Name: "tls", BaseURL: tlsURL, Endpoint: "/echo", Identity: tokenforge.Identity{CAFile: caFile},
	}))
	okToken(t)(f.Fetch(nil))
	plain := okFetcher(t)(tokenforge.NewBodyFetcher(tokenforge.BodyOptions{Name: "tls", BaseURL: tlsURL, Endpoint: "/echo"}))
	_, err := plain.Fetch(nil)
	if e := asError(t, err); e.Code != tokenforge.CodeTLS || !strings.Contains(e.Message, "unknown issuer") {
		t.Errorf("without the CA: %+v", e)
	}
	if _, err := tokenforge.NewBodyFetcher(tokenforge.BodyOptions{
		Name: "bad", BaseURL: tlsURL, Identity: tokenforge.Identity{CAFile: "/nonexistent/ca.pem"},
	}); asError(t, err).Code != tokenforge.CodeInvalidArgument {
		t.Errorf("a missing CA file: %v", err)
	}
}

// private_key_jwt (RS256 with a kid) over HTTPS, then token exchange of its token, then a
// call with the exchanged token.
func TestPrivateKeyJWTAndTokenExchange(t *testing.T) {
	registerJWTKey(t, "go-svc", "RS256", rsaKey)
	id := tokenforge.Identity{CAFile: caFile, JWTKey: &tokenforge.JWTKey{File: rsaKey, Alg: "RS256", KID: "k1"}}
	svc := okFetcher(t)(tokenforge.NewClientCredentialsFetcher(tokenforge.ClientCredentialsOptions{
		Name: "svc", TokenURL: tlsURL + "/oauth/token", ClientID: "go-svc", ClientAuth: "private_key_jwt", Identity: id,
	}))
	user := okFetcher(t)(tokenforge.NewTokenExchangeFetcher(tokenforge.TokenExchangeOptions{
		Name: "user", TokenURL: tlsURL + "/oauth/token", SubjectToken: "{{svc.access_token}}",
		RequestedTokenType: "urn:ietf:params:oauth:token-type:access_token", Audience: "https://api.example",
		DependsOn: []string{"svc"}, Identity: tokenforge.Identity{CAFile: caFile},
	}))
	api := okFetcher(t)(tokenforge.NewBodyFetcher(tokenforge.BodyOptions{
		Name: "api", BaseURL: tlsURL, Endpoint: "/echo", DependsOn: []string{"user"},
		Headers: map[string]string{"Authorization": "{{user.authorization}}"}, Identity: tokenforge.Identity{CAFile: caFile},
	}))
	p := tokenforge.NewPipeline()
	defer p.Close()
	for _, f := range []*tokenforge.Fetcher{svc, user, api} {
		if err := p.Add(f); err != nil {
			t.Fatal(err)
		}
	}
	call := okToken(t)(p.Token(context.Background(), "api"))
	exchanged := okToken(t)(p.Token(context.Background(), "user"))
	if got, _ := call.Extra("header.authorization"); got != "Bearer "+exchanged.AccessToken() {
		t.Errorf("the call carried %q, want the exchanged token %q", got, exchanged.AccessToken())
	}
	if it, _ := exchanged.Extra("issued_token_type"); it != "urn:ietf:params:oauth:token-type:access_token" {
		t.Errorf("issued_token_type %q", it)
	}
	first := okToken(t)(p.Token(context.Background(), "svc"))
	if how, _ := first.Extra("client_auth"); how != "private_key_jwt" {
		t.Errorf("client_auth %q", how)
	}
}

// The JWT bearer grant, and discovery of the token endpoint from the server's metadata.
func TestJWTBearerWithDiscovery(t *testing.T) {
	registerJWTKey(t, "sa@go.example", "PS256", rsaKey)
	f := okFetcher(t)(tokenforge.NewJWTBearerFetcher(tokenforge.JWTBearerOptions{
		Name: "sa", AssertionIssuer: "sa@go.example", AssertionSubject: "user@go.example", Scope: "read",
		Identity: tokenforge.Identity{JWTKey: &tokenforge.JWTKey{File: rsaKey, Alg: "PS256"}, Issuer: baseURL},
	}))
	tok := okToken(t)(f.Fetch(nil))
	if !strings.HasPrefix(tok.AccessToken(), "jb-") || tok.Scope() != "read" {
		t.Errorf("token %q scope %q", tok.AccessToken(), tok.Scope())
	}
	if sub, _ := tok.Extra("sub"); sub != "user@go.example" {
		t.Errorf("sub %q", sub)
	}
	if _, err := url.Parse(baseURL); err != nil {
		t.Fatal(err)
	}
	if _, err := tokenforge.NewJWTBearerFetcher(tokenforge.JWTBearerOptions{Name: "nokey", TokenURL: baseURL, AssertionIssuer: "x"}); asError(t, err).Code != tokenforge.CodeConfig {
		t.Errorf("jwt_bearer without a key: %v", err)
	}
}

// A certificate credential (Microsoft Entra ID style): the assertion's header carries the
// certificate's x5t and x5t#S256, which the test server echoes and Go's own crypto checks.
func TestJWTCertificateThumbprints(t *testing.T) {
	cert := filepath.Join(t.TempDir(), "app.pem")
	if out, err := exec.Command("openssl", "req", "-x509", "-new", "-key", rsaKey, "-subj", "/CN=app", "-days", "2", "-out", cert).CombinedOutput(); err != nil {
		t.Fatalf("openssl: %v %s", err, out)
	}
	pemBytes, err := os.ReadFile(cert)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(pemBytes)
	sha1Sum, sha256Sum := sha1.Sum(block.Bytes), sha256.Sum256(block.Bytes)
	registerJWTKey(t, "go-entra", "RS256", rsaKey)
	f := okFetcher(t)(tokenforge.NewClientCredentialsFetcher(tokenforge.ClientCredentialsOptions{
		Name: "entra", TokenURL: baseURL + "/oauth/token", ClientID: "go-entra", ClientAuth: "private_key_jwt",
		Identity: tokenforge.Identity{JWTKey: &tokenforge.JWTKey{File: rsaKey, Alg: "RS256", Cert: cert}},
	}))
	tok := okToken(t)(f.Fetch(nil))
	if got, _ := tok.Extra("assertion_x5t"); got != base64.RawURLEncoding.EncodeToString(sha1Sum[:]) {
		t.Errorf("x5t %q", got)
	}
	if got, _ := tok.Extra("assertion_x5t_s256"); got != base64.RawURLEncoding.EncodeToString(sha256Sum[:]) {
		t.Errorf("x5t#S256 %q", got)
	}
	_, err = tokenforge.NewClientCredentialsFetcher(tokenforge.ClientCredentialsOptions{
		Name: "entra", TokenURL: baseURL + "/oauth/token", ClientID: "go-entra", ClientAuth: "private_key_jwt",
		Identity: tokenforge.Identity{JWTKey: &tokenforge.JWTKey{File: rsaKey, Alg: "RS256", Cert: rsaKey}},
	})
	if e := asError(t, err); e.Code != tokenforge.CodeInvalidArgument || !strings.Contains(e.Message, "holds no certificate") {
		t.Errorf("a key file as the certificate: %+v", e)
	}
}
