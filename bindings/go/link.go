//go:build !tokenforge_pkgconfig

package tokenforge

// By default the package links against the library built in this repository
// (target/release/libtokenforge.so) and records its directory as the run-time search path,
// so that `go test` works straight after `cargo build --release`. Build with the tag
// tokenforge_pkgconfig to use an installed library found through pkg-config instead.

/*
#cgo CFLAGS: -I${SRCDIR}/../../include
#cgo LDFLAGS: -L${SRCDIR}/../../target/release -ltokenforge -Wl,-rpath,${SRCDIR}/../../target/release
*/
import "C"
