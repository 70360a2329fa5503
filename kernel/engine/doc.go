// Package engine turns notebook cells into Go, builds them with the machine's
// Go toolchain and runs them in one long-lived session process, mapping build
// errors and panics back to the cell and line the user wrote.
//
// An Engine is one notebook session: the kernel hands it cells in order
// (Execute) and asks it about code (Complete, Inspect, IsComplete). It never
// speaks the Jupyter protocol; output goes to the kernel through Output.
//
// # How a cell runs
//
// A cell is split into top-level items (imports, declarations, statements),
// type-checked with go/types as one package together with every earlier
// cell's declarations (the world) — its imports first, whatever their place
// in the cell, and the variables its statements declare visible to its own
// functions — then rewritten into its own package ipclab.cell/cNNNN:
//
//   - names from earlier cells become references to their packages;
//   - unexported functions, variables, constants and methods get an exported
//     spelling (Ξname), so later packages may use them; types keep their
//     names (so %T and %v print what the user wrote) and get an exported
//     alias; unexported fields and literals of earlier cells' types go
//     through accessors generated with the type (Ξf_, Ξg_, Ξlit_, Ξkeyed_);
//   - top-level variables become package variables, assigned where the
//     statement stood, and the statements become the package's Run;
//   - loops and function bodies get an interrupt check (loops look at the
//     flag every 4096th iteration, which keeps tight loops within a few
//     percent of plain Go), go statements report
//     panics instead of ending the session, and os.Exit, log.Fatal and
//     time.Sleep call the cellrt runtime instead;
//   - the trailing expression is passed to cellrt.Result;
//   - func init stays the package's init, so it runs when the plugin loads,
//     before Run; a bare Display (as gophernotes notebooks write it) is
//     display/bare.Display unless a cell declares its own;
//   - an init function exports the package's functions and variables, for
//     the cells that are evaluated instead of compiled.
//
// //line directives keep every position in the cell's own terms. The package
// and a two-line plugin main are compiled and linked by calling the compiler
// and linker directly (go build for cgo cells), and the plugin is loaded into
// the session process (display/cellhost.Serve), where the earlier cells'
// packages are already loaded: one copy of each, one state.
//
// # Cells that need no build
//
// A cell that declares no functions, types or package-level var and const,
// and whose statements only declare variables with :=, read, assign, send,
// receive, call and build values (literals, make, new, conversions) with what
// is already loaded (x, n++; n, y := f(x), p.norm(), []point{{3, 4}},
// fmt.Println(x)) is not compiled: lower.go turns its type-checked syntax into a cellhost.Program,
// which the session process evaluates with reflect in about a millisecond.
// To reach earlier cells' names, every cell package exports its functions,
// variables and types to cellrt at init, each plugin exports the packages its cell
// imported, and a prelude plugin built at start exports fmt, strings, math,
// time, os, display, ipc, plots and a few more. Lowering takes only what the
// evaluator does exactly as compiled Go (the tests run every such cell both
// ways and compare); the rest, and a program naming a symbol the session
// does not have, is compiled. Variables such a cell declares live in
// cellrt's registry; later compiled cells reach them through a pointer
// (cellrt.VarOf) that their package fetches at init.
//
// Where plugins cannot work, every cell instead builds one program that runs
// all kept cells again with their output hidden (Options.Rebuild); so does
// %goflags -race, because the race detector does not watch plugins'
// package-level variables (race.go).
//
// A top-level ipc.RegisterWorker call is moved into the cell package's init
// (workers.go), so that a worker process, which loads the session's plugins
// before it runs its worker (display/cellhost.Serve), registers it too.
//
// # Output
//
// The session process's standard output carries the cell's text and, framed
// by internal/cellio, rich output and the end-of-cell marker, so that both
// stay in order. A thread blocked reading standard input is seen in /proc
// and answered with an input_request.
//
// # What it leaves behind
//
// Nothing, however a session ends (hygiene.go): processes cells and
// !commands start are ended with the session and with the kernel, ipc
// objects of ended sessions are swept at start, close and restart, and each
// go command's temporary files are removed when it ends. Built programs are
// cached only in a directory no other user can write, and each is checked
// against the content hash recorded when it was built (workspace.go).
package engine
