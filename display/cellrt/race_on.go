//go:build race

package cellrt

import "runtime"

// raceQuiet hides f's synchronisation from the race detector. The
// bookkeeping of Go (a map every cell goroutine writes under one lock) would
// otherwise order the goroutines it starts, and a race between two of them
// would go unreported under %goflags -race.
func raceQuiet(f func()) {
	runtime.RaceDisable()
	defer runtime.RaceEnable()
	f()
}
