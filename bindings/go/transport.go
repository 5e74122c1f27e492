package tokenforge

import (
	"errors"
	"io"
	"net/http"
)

// Transport is an http.RoundTripper that authenticates each request with the token of one
// pipeline step:
//
//	client := &http.Client{Transport: &tokenforge.Transport{Pipeline: p, Step: "user_token"}}
//
// It sends a clone of the request with the Authorization header set from the step's token.
// When the answer is 401 Unauthorized, it drops that token from the pipeline (with
// InvalidateIf, so that many requests failing at once cause one refetch) and sends the
// request once more with the new token, provided the body can be sent again (no body, or
// http.Request.GetBody set, as http.NewRequest does for in-memory bodies) and the new token
// differs; otherwise the 401 answer is returned.
type Transport struct {
	// Pipeline supplies the tokens (required).
	Pipeline *Pipeline
	// Step is the pipeline step whose token authenticates the requests (required).
	Step string
	// Base sends the requests; nil means http.DefaultTransport.
	Base http.RoundTripper
}

func (t *Transport) base() http.RoundTripper {
	if t.Base != nil {
		return t.Base
	}
	return http.DefaultTransport
}

// credentials returns the step's access token and Authorization header value.
func (t *Transport) credentials(req *http.Request) (access, authorization string, err error) {
	tok, err := t.Pipeline.Token(req.Context(), t.Step)
	if err != nil {
		return "", "", err
	}
	access, authorization = tok.AccessToken(), tok.Authorization()
	tok.Close()
	return access, authorization, nil
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	closeBody := func() {
		if req.Body != nil {
			req.Body.Close()
		}
	}
	if t.Pipeline == nil {
		closeBody()
		return nil, errors.New("tokenforge: Transport.Pipeline is nil")
	}
	access, auth, err := t.credentials(req)
	if err != nil {
		closeBody()
		return nil, err
	}
	replayable := req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
	resp, err := t.send(req, auth, nil)
	if err != nil || resp.StatusCode != http.StatusUnauthorized || !replayable {
		return resp, err
	}
	if _, err := t.Pipeline.InvalidateIf(t.Step, access); err != nil {
		return resp, nil
	}
	newAccess, newAuth, err := t.credentials(req)
	if err != nil || newAccess == access {
		return resp, nil
	}
	var body io.ReadCloser
	if req.Body != nil && req.Body != http.NoBody {
		if body, err = req.GetBody(); err != nil {
			return resp, nil
		}
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return t.send(req, newAuth, body)
}

// send sends a copy of req with the Authorization header; body, when not nil, replaces
// the original body. The copy is shallow but for its header map, which is the only part
// changed (what the RoundTripper contract asks, and what oauth2.Transport does).
func (t *Transport) send(req *http.Request, authorization string, body io.ReadCloser) (*http.Response, error) {
	r := new(http.Request)
	*r = *req
	h := make(http.Header, len(req.Header)+1)
	for k, v := range req.Header {
		h[k] = v
	}
	h["Authorization"] = []string{authorization}
	r.Header = h
	if body != nil {
		r.Body = body
	}
	return t.base().RoundTrip(r)
}
