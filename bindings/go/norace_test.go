//go:build !race

package tokenforge_test

const raceEnabled = false
