package kernel

import "testing"

func TestCompleteUTF8(t *testing.T) {
	tests := []struct {
		in   string
		want int
	}{
		{"", 0},
		{"abc", 3},
		{"ab\xc3", 2},              // first byte of é
		{"ab\xc3\xa9", 4},          // é complete
		{"a\xe2\x82", 1},           // two of €'s three bytes
		{"a\xe2\x82\xac", 4},       // € complete
		{"\xf0\x9f\x98", 0},        // three of 😀's four bytes
		{"x\xf0\x9f\x98\x80", 5},   // 😀 complete
		{"x\x80\x80\x80\x80", 5},   // stray continuation bytes: nothing to wait for
		{"\xff", 1},                // invalid byte
		{"abc\xe2\x82\xac\xe2", 6}, // € then a cut rune
	}
	for _, tt := range tests {
		if got := completeUTF8([]byte(tt.in)); got != tt.want {
			t.Errorf("completeUTF8(%q) = %d, want %d", tt.in, got, tt.want)
		}
	}
}
