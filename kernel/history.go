package kernel

import (
	"fmt"
	"sync"
	"unicode/utf8"
)

// history keeps this session's stored cells in memory, for history_request.
type history struct {
	mu      sync.Mutex
	session int
	cells   []historyCell
}

type historyCell struct {
	line   int
	input  string
	output *string // text/plain of the result, if any
}

// maxHistoryOutput bounds the output text kept per cell.
const maxHistoryOutput = 16 << 10

func (h *history) add(line int, input string, output *string) {
	if output != nil && len(*output) > maxHistoryOutput {
		s := (*output)[:completeUTF8([]byte((*output)[:maxHistoryOutput]))] + "…"
		output = &s
	}
	h.mu.Lock()
	h.cells = append(h.cells, historyCell{line, input, output})
	h.mu.Unlock()
}

// historyQuery is a history_request's content.
type historyQuery struct {
	Output     bool   `json:"output"`
	Raw        bool   `json:"raw"`
	AccessType string `json:"hist_access_type"`
	Session    int    `json:"session"`
	Start      int    `json:"start"`
	Stop       *int   `json:"stop"`
	N          *int   `json:"n"`
	Pattern    string `json:"pattern"`
	Unique     bool   `json:"unique"`
}

// query answers q with entries [session, line, input], or with output
// [session, line, [input, output]] (output null when the cell had none).
// tail returns the last n cells (default 10); range the cells with
// start <= line < stop in session (0 or the current one; earlier sessions
// are not kept); search the cells whose input matches the glob pattern
// (* and ? as wildcards, [...] classes, the whole input must match), the
// last n of them (default all), each input once with unique.
func (h *history) query(q historyQuery) ([]any, error) {
	h.mu.Lock()
	cells := h.cells
	h.mu.Unlock()

	var picked []historyCell
	switch q.AccessType {
	case "tail":
		n := 10
		if q.N != nil {
			n = max(*q.N, 0)
		}
		picked = cells[max(len(cells)-n, 0):]
	case "range":
		if q.Session != 0 && q.Session != h.session {
			break
		}
		for _, c := range cells {
			if c.line >= q.Start && (q.Stop == nil || c.line < *q.Stop) {
				picked = append(picked, c)
			}
		}
	case "search":
		pattern := q.Pattern
		if pattern == "" {
			pattern = "*"
		}
		n := len(cells)
		if q.N != nil && *q.N > 0 {
			n = *q.N
		}
		seen := map[string]bool{}
		for i := len(cells) - 1; i >= 0 && len(picked) < n; i-- {
			c := cells[i]
			if !globMatch(pattern, c.input) || (q.Unique && seen[c.input]) {
				continue
			}
			seen[c.input] = true
			picked = append(picked, c)
		}
		for i, j := 0, len(picked)-1; i < j; i, j = i+1, j-1 {
			picked[i], picked[j] = picked[j], picked[i]
		}
	default:
		return nil, fmt.Errorf("hist_access_type %q is not tail, range or search", q.AccessType)
	}
	out := make([]any, 0, len(picked))
	for _, c := range picked {
		if q.Output {
			var o any
			if c.output != nil {
				o = *c.output
			}
			out = append(out, []any{h.session, c.line, []any{c.input, o}})
		} else {
			out = append(out, []any{h.session, c.line, c.input})
		}
	}
	return out, nil
}

// globMatch reports whether all of s matches pattern, where * matches any
// run of characters (newlines included), ? any one character, and [...] one
// character of a class ([a-z], [^abc] or [!abc]); as SQLite's GLOB, which
// IPython's history search uses.
func globMatch(pattern, s string) bool {
	// Iterative matching with backtracking to the last star.
	var starP, starS = -1, 0
	p, i := 0, 0
	for i < len(s) {
		if p < len(pattern) {
			switch pattern[p] {
			case '*':
				starP, starS = p, i
				p++
				continue
			case '?':
				_, w := utf8.DecodeRuneInString(s[i:])
				p++
				i += w
				continue
			case '[':
				r, w := utf8.DecodeRuneInString(s[i:])
				if ok, end := matchClass(pattern[p:], r); end > 0 {
					if ok {
						p += end
						i += w
						continue
					}
				} else if s[i] == '[' { // unterminated class: a literal '['
					p++
					i++
					continue
				}
			default:
				pr, pw := utf8.DecodeRuneInString(pattern[p:])
				r, w := utf8.DecodeRuneInString(s[i:])
				if pr == r {
					p += pw
					i += w
					continue
				}
			}
		}
		if starP < 0 {
			return false
		}
		_, w := utf8.DecodeRuneInString(s[starS:])
		starS += w
		p, i = starP+1, starS
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// matchClass matches r against the class at the start of pattern ("[...]").
// It returns whether r is in the class and the class's length in bytes, or
// end 0 when the class is not terminated.
func matchClass(pattern string, r rune) (ok bool, end int) {
	i := 1
	negate := false
	if i < len(pattern) && (pattern[i] == '^' || pattern[i] == '!') {
		negate = true
		i++
	}
	first := true
	for i < len(pattern) {
		if pattern[i] == ']' && !first {
			return ok != negate, i + 1
		}
		first = false
		lo, w := utf8.DecodeRuneInString(pattern[i:])
		i += w
		hi := lo
		if i+1 < len(pattern) && pattern[i] == '-' && pattern[i+1] != ']' {
			var w2 int
			hi, w2 = utf8.DecodeRuneInString(pattern[i+1:])
			i += 1 + w2
		}
		if lo <= r && r <= hi {
			ok = true
		}
	}
	return false, 0
}
