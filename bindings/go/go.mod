module github.com/tokenforge/tokenforge/bindings/go

go 1.22
