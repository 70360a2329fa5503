// Package engine turns notebook cells into Go, builds them with the machine's
// Go toolchain and runs them, mapping build errors and panics back to the
// cell and line the user wrote.
//
// An Engine is one session: the kernel hands it cells in order (Execute) and
// asks it about code (Complete, Inspect, IsComplete). It never speaks the
// Jupyter protocol; output goes to the kernel through the Output interface.
package engine
