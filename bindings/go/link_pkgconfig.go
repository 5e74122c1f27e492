//go:build tokenforge_pkgconfig

package tokenforge

// With the build tag tokenforge_pkgconfig the package takes its compiler and linker flags
// from the installed tokenforge.pc (`pkg-config --cflags --libs tokenforge`).

/*
#cgo pkg-config: tokenforge
*/
import "C"
