// Package bare holds the names gophernotes notebooks call without a package
// name: Display(display.Markdown("* hello")). The kernel makes them visible
// to a cell that uses them and declares no name of its own that clashes;
// nobody imports this package by hand.
package bare

import "github.com/ipclab/ipclab/display"

// Display shows v under the cell now, as display.Display does.
func Display(v any) error { return display.Display(v) }
