package cellio

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
)

// maxRecord bounds one record so that a corrupt length cannot make the
// reader buffer without end.
const maxRecord = 256 << 20

// Splitter separates records from text in a byte stream that arrives in
// arbitrary chunks. It is not safe for concurrent use.
type Splitter struct {
	buf []byte
}

// Item is either text or a decoded message (or a record that failed to decode).
type Item struct {
	Text    []byte
	Message *Message
	Err     error
}

// Feed appends p and returns every complete item now available. Text that
// might be the start of a record is held back until it is decided.
func (s *Splitter) Feed(p []byte) []Item {
	s.buf = append(s.buf, p...)
	var items []Item
	for len(s.buf) > 0 {
		i := bytes.IndexByte(s.buf, Magic[0])
		if i < 0 {
			items = append(items, Item{Text: s.take(len(s.buf))})
			break
		}
		if i > 0 {
			items = append(items, Item{Text: s.take(i)})
			continue
		}
		// s.buf starts with NUL: a record, a prefix of one, or plain text.
		n := min(len(s.buf), len(Magic))
		if string(s.buf[:n]) != Magic[:n] {
			items = append(items, Item{Text: s.take(1)})
			continue
		}
		if n < len(Magic) {
			break // undecided: wait for more bytes
		}
		nl := bytes.IndexByte(s.buf[len(Magic):], '\n')
		if nl < 0 {
			if len(s.buf)-len(Magic) > 20 {
				items = append(items, Item{Text: s.take(1)})
				continue
			}
			break
		}
		size, err := strconv.Atoi(string(s.buf[len(Magic) : len(Magic)+nl]))
		if err != nil || size < 0 || size > maxRecord {
			items = append(items, Item{Text: s.take(1)})
			continue
		}
		start := len(Magic) + nl + 1
		if len(s.buf) < start+size {
			break
		}
		body := s.buf[start : start+size]
		var m Message
		if err := json.Unmarshal(body, &m); err != nil {
			items = append(items, Item{Err: fmt.Errorf("decode output record: %w", err)})
		} else {
			items = append(items, Item{Message: &m})
		}
		s.take(start + size)
	}
	return items
}

// Flush returns whatever text is held back, for the end of the stream.
func (s *Splitter) Flush() []byte {
	return s.take(len(s.buf))
}

func (s *Splitter) take(n int) []byte {
	out := bytes.Clone(s.buf[:n])
	s.buf = s.buf[n:]
	if len(s.buf) == 0 {
		s.buf = s.buf[:0:0]
	}
	return out
}
