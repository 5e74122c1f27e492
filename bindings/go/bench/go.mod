module github.com/tokenforge/tokenforge/bindings/go/bench

go 1.26.0

require (
	github.com/tokenforge/tokenforge/bindings/go v0.0.0
	golang.org/x/oauth2 v0.38.0
)

replace github.com/tokenforge/tokenforge/bindings/go => ../
