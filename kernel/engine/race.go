package engine

import (
	"fmt"
	"slices"
	"strings"
)

// The race detector in a notebook (%goflags -race).
//
// A session process built with -race that loads cells as plugins would not
// do: the race detector does not watch a plugin's package-level variables
// (golang/go#24245), which is exactly where cells keep theirs, so the most
// common race in a lab (two goroutines updating a counter an earlier cell
// declared) would pass silently. While -race is on, every cell therefore
// builds one race-enabled program with all the cells so far, as the
// rebuild fallback does (executeRebuild): every variable is then an
// ordinary global or heap variable of that program, which the detector
// sees. Earlier cells run again with their output hidden, so their values
// are recomputed and their goroutines do not outlive a cell; a report
// written while the new cell runs appears under it, with the cell and line
// of both accesses (//line directives), and the cell ends with a DataRace
// error. %goflags without -race returns to the plugin session.

const raceNotice = "ipclab: race detector on: each cell now builds one race-enabled program with every cell so far and runs the earlier cells again with their output hidden (values are recomputed, goroutines do not survive between cells); %goflags without -race returns to the live session.\n"

// setRace follows %goflags: -race switches to race-enabled rebuilds, its
// absence back to the plugin session. Called with e.mu held.
func (e *Engine) setRace(out Output) {
	race := slices.Contains(e.goflags, "-race") || slices.Contains(e.goflags, "-race=true")
	if race == e.race {
		return
	}
	e.race = race
	e.rebuild = e.noPlugins || race
	e.rebuildSaid = false
	if !race {
		return
	}
	// Cells evaluated without a build have no package for the program to
	// run again: start from an empty session.
	for _, c := range e.w.cells {
		if c.evaluated {
			e.w = newWorld()
			out.Stream("stderr", "ipclab: earlier cells were evaluated without a build, so the race-enabled program cannot run them again: declarations are forgotten; run the cells you need again.\n")
			break
		}
	}
}

// raceError is the error of a cell during which the race detector reported
// a data race on the program's standard error, or nil.
func raceError(label, stderr string) *CellError {
	n := strings.Count(stderr, "WARNING: DATA RACE")
	if n == 0 {
		return nil
	}
	msg := fmt.Sprintf("the race detector found %d data race(s) while %s ran (the report above names the cell and line of both accesses)", n, label)
	return &CellError{Name: "DataRace", Value: msg, Traceback: []string{red + bold + "DataRace" + reset + ": " + msg}}
}
