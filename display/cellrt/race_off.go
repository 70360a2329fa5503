//go:build !race

package cellrt

// raceQuiet runs f; see race_on.go.
func raceQuiet(f func()) { f() }
