// Package cellio is the private channel between a cell's process and the
// kernel: rich output travels inside the process's standard output as framed
// records, so that it stays in order with what the cell prints.
//
// A record is Magic, a decimal length, '\n', then that many bytes of JSON
// (a Message). Package display writes records; the engine reads them out of
// the stream and passes everything else on as text.
package cellio

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
)

// Magic starts every record. It begins with a NUL byte, which text output
// practically never contains.
const Magic = "\x00\x1bipclab:"

// Kinds of Message.
const (
	KindDisplay = "display_data"
	KindUpdate  = "update_display_data"
	KindClear   = "clear_output"
	KindResult  = "execute_result"
	// KindDone marks the end of a cell's output; the engine writes it.
	KindDone = "done"
)

// Message is one rich-output event.
type Message struct {
	Kind      string            `json:"kind"`
	Data      map[string]any    `json:"data,omitempty"`
	Metadata  map[string]any    `json:"metadata,omitempty"`
	DisplayID string            `json:"display_id,omitempty"`
	Wait      bool              `json:"wait,omitempty"`
	Extra     map[string]string `json:"extra,omitempty"`
}

// Encode returns m framed as a record.
func Encode(m Message) ([]byte, error) {
	body, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode %s record: %w", m.Kind, err)
	}
	out := make([]byte, 0, len(Magic)+20+len(body))
	out = append(out, Magic...)
	out = strconv.AppendInt(out, int64(len(body)), 10)
	out = append(out, '\n')
	return append(out, body...), nil
}

// Write frames m and writes it to w in one call.
func Write(w io.Writer, m Message) error {
	rec, err := Encode(m)
	if err != nil {
		return err
	}
	_, err = w.Write(rec)
	return err
}
