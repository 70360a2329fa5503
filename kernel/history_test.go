package kernel

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestGlobMatch(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"*", "", true},
		{"*", "anything\nat all", true},
		{"6?7", "6*7", true},
		{"6?7", "6**7", false},
		{"6*7", "6*7", true},
		{"6*7", "6 * 7", true},
		{"6*7", "6 * 7 ", false},
		{"fmt.*", "fmt.Println(x)", true},
		{"*Print*", "x := fmt.Println(1)", true},
		{"*print*", "fmt.Println", false}, // case-sensitive, as GLOB
		{"a*b*c", "aXbYc", true},
		{"a*b*c", "aXbY", false},
		{"[abc]x", "bx", true},
		{"[a-c]x", "dx", false},
		{"[^a-c]x", "dx", true},
		{"[!a-c]x", "ax", false},
		{"[]]", "]", true},
		{"[", "[", true},
		{"é?", "éü", true},
		{"?", "é", true},
		{"", "", true},
		{"", "x", false},
		{"**a", "ba", true},
	}
	for _, tt := range tests {
		if got := globMatch(tt.pattern, tt.s); got != tt.want {
			t.Errorf("globMatch(%q, %q) = %v, want %v", tt.pattern, tt.s, got, tt.want)
		}
	}
}

func TestHistoryOutputIsBounded(t *testing.T) {
	var h history
	h.session = 1
	big := strings.Repeat("é", maxHistoryOutput)
	h.add(1, "x", &big)
	out, err := h.query(historyQuery{AccessType: "tail", Output: true})
	if err != nil {
		t.Fatal(err)
	}
	got := out[0].([]any)[2].([]any)[1].(string)
	if len(got) > maxHistoryOutput+len("…") || !utf8.ValidString(got) {
		t.Errorf("kept %d bytes, valid UTF-8 %v", len(got), utf8.ValidString(got))
	}
}
