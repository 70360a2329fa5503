package engine

import "testing"

func TestSplitCell(t *testing.T) {
	tests := []struct {
		src   string
		kinds []itemKind
	}{
		{"x := 1", []itemKind{itemStmt}},
		{"import \"fmt\"\nfmt.Println(1)", []itemKind{itemImport, itemStmt}},
		{"type p struct{ x int }\nfunc (q p) m() int { return q.x }\nfunc f() {}", []itemKind{itemDecl, itemDecl, itemDecl}},
		{"func(x int) { println(x) }(3)", []itemKind{itemStmt}},
		{"for i := 0; i < 3; i++ { }\nif x := 1; x > 0 { }", []itemKind{itemStmt, itemStmt}},
		{"var x = 1; const y = 2", []itemKind{itemStmt, itemDecl}},
		{"func (s *List[T]) Push(v T) {}", []itemKind{itemDecl}},
		{"// a comment\n\n/* block */", nil},
		{"/*\nint f(void);\n*/\nimport \"C\"", []itemKind{itemImport}},
	}
	for _, tt := range tests {
		items, err := splitCell(tt.src)
		if err != nil {
			t.Errorf("%q: %v", tt.src, err)
			continue
		}
		if len(items) != len(tt.kinds) {
			t.Errorf("%q: %d items %+v, want %d", tt.src, len(items), items, len(tt.kinds))
			continue
		}
		for i, it := range items {
			if it.kind != tt.kinds[i] {
				t.Errorf("%q: item %d (%q) is %d, want %d", tt.src, i, tt.src[it.start:it.end], it.kind, tt.kinds[i])
			}
		}
	}
	if items, _ := splitCell("/*\nint f(void);\n*/\nimport \"C\""); items[0].start != 0 {
		t.Errorf("the cgo preamble must belong to import \"C\": start %d", items[0].start)
	}
}

func TestIsComplete(t *testing.T) {
	e := &Engine{}
	tests := []struct{ code, status string }{
		{"x := 1", "complete"},
		{"func f() {", "incomplete"},
		{"x := []int{1,\n2,", "incomplete"},
		{"s := `raw", "incomplete"},
		{"x := 1 +", "incomplete"},
		{"x := )", "invalid"},
		{"}", "invalid"},
		{"%go get example.com/m", "complete"},
		{"", "complete"},
		// Brackets still open, but nothing added can make the code valid.
		{"if x := 1; {", "invalid"},
		{"if x := 1; {\n\tfmt.Println(x)", "invalid"},
		{"func f( {", "invalid"},
		// Truly unfinished code stays incomplete.
		{"for i := 0; i < 3; i++ {", "incomplete"},
		{"go func() {", "incomplete"},
		{"defer func() {\n\trecover()", "incomplete"},
		{"fmt.Println(\"a\",", "incomplete"},
		{"switch x {\ncase 1:", "incomplete"},
		{"type T struct {", "incomplete"},
		{"if ok { // a comment", "incomplete"},
		{"func f() {\n\tx := ", "incomplete"},
		{"import \"fmt\"\nvar a = 1\nimport \"os\"\nfunc g() {", "incomplete"},
	}
	for _, tt := range tests {
		if got := e.IsComplete(tt.code); got.Status != tt.status {
			t.Errorf("IsComplete(%q) = %+v, want %s", tt.code, got, tt.status)
		}
	}
}

func FuzzSplitCell(f *testing.F) {
	for _, s := range []string{"x := 1", "func f() {}\nf()", "for i := 0; i < 3; i++ {}", "/*c*/ import \"C\"", "}{", "`"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		items, _ := splitCell(src)
		prev := 0
		for _, it := range items {
			if it.start < prev || it.end < it.start || it.end > len(src) {
				t.Fatalf("bad item %+v in %q", it, src)
			}
			prev = it.end
		}
	})
}
