package engine

import (
	"context"
	"errors"
)

// Output receives what a cell produces while it runs. The kernel implements
// it; methods may be called from several goroutines, and also after Execute
// has returned (a goroutine a cell started may keep printing).
type Output interface {
	// Stream sends text the cell wrote; name is "stdout" or "stderr".
	Stream(name, text string)
	// Display sends display_data, or update_display_data when update is set.
	Display(data, metadata map[string]any, displayID string, update bool)
	// ClearOutput clears the cell's output.
	ClearOutput(wait bool)
	// Input asks the front end for a line of input (input_request on the
	// stdin channel) and returns the reply. It returns ErrNoStdin when the
	// request said allow_stdin=false.
	Input(ctx context.Context, prompt string, password bool) (string, error)
}

// ErrNoStdin is returned by Output.Input when the front end cannot answer.
var ErrNoStdin = errors.New("this front end does not accept input (allow_stdin is false)")

// Request is one execute_request as the engine sees it.
type Request struct {
	Code string
	// Count is the execution count the kernel shows for this cell ("cell N");
	// 0 for silent requests.
	Count int
	// Silent requests produce no execute_result and are not counted.
	Silent bool
	// AllowStdin is false when the front end cannot answer input requests.
	AllowStdin bool
}

// Result is the outcome of one cell.
type Result struct {
	// Data is the execute_result MIME bundle, nil when the cell has no value.
	Data     map[string]any
	Metadata map[string]any
	// Err is set when the cell failed to build, panicked, exited or was
	// interrupted.
	Err *CellError
	// Evaluated is set when the cell ran without being compiled.
	Evaluated bool
}

// CellError is an error reply: ename, evalue and a traceback whose lines
// name "cell N, line M" and quote the source.
type CellError struct {
	Name      string
	Value     string
	Traceback []string
}

func (e *CellError) Error() string { return e.Name + ": " + e.Value }

// Completion is a complete_reply.
type Completion struct {
	Matches     []string
	CursorStart int // in Unicode code points, as the protocol counts
	CursorEnd   int
	Metadata    map[string]any
}

// Inspection is an inspect_reply; Found false means nothing to show.
type Inspection struct {
	Found    bool
	Data     map[string]any
	Metadata map[string]any
}

// Completeness is an is_complete_reply status.
type Completeness struct {
	Status string // "complete", "incomplete", "invalid" or "unknown"
	Indent string // with "incomplete": what to indent the next line with
}
