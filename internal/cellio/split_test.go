package cellio

import (
	"bytes"
	"testing"
)

func join(t *testing.T, items []Item) (string, []Message) {
	t.Helper()
	var text bytes.Buffer
	var msgs []Message
	for _, it := range items {
		if it.Err != nil {
			t.Fatalf("unexpected error: %v", it.Err)
		}
		text.Write(it.Text)
		if it.Message != nil {
			msgs = append(msgs, *it.Message)
		}
	}
	return text.String(), msgs
}

func TestSplitterAnyChunking(t *testing.T) {
	rec, err := Encode(Message{Kind: KindDisplay, Data: map[string]any{"text/html": "<b>x</b>"}})
	if err != nil {
		t.Fatal(err)
	}
	stream := append([]byte("before\x00nul\n"), rec...)
	stream = append(stream, "after"...)
	for chunk := 1; chunk <= len(stream); chunk++ {
		var s Splitter
		var items []Item
		for i := 0; i < len(stream); i += chunk {
			items = append(items, s.Feed(stream[i:min(i+chunk, len(stream))])...)
		}
		items = append(items, Item{Text: s.Flush()})
		text, msgs := join(t, items)
		if text != "before\x00nul\nafter" {
			t.Fatalf("chunk %d: text = %q", chunk, text)
		}
		if len(msgs) != 1 || msgs[0].Data["text/html"] != "<b>x</b>" {
			t.Fatalf("chunk %d: messages = %+v", chunk, msgs)
		}
	}
}

func TestSplitterBadRecordIsReported(t *testing.T) {
	var s Splitter
	items := s.Feed([]byte(Magic + "3\n{x}tail"))
	var sawErr bool
	var text []byte
	for _, it := range items {
		sawErr = sawErr || it.Err != nil
		text = append(text, it.Text...)
	}
	if !sawErr || string(text) != "tail" {
		t.Fatalf("items = %+v", items)
	}
}

func FuzzSplitter(f *testing.F) {
	rec, _ := Encode(Message{Kind: KindClear, Wait: true})
	f.Add([]byte("plain"), 3)
	f.Add(append([]byte("a"), rec...), 5)
	f.Add([]byte(Magic+"99999999999\n"), 1)
	f.Fuzz(func(t *testing.T, data []byte, chunk int) {
		if chunk <= 0 {
			chunk = 1
		}
		var s Splitter
		var n int
		for i := 0; i < len(data); i += chunk {
			for _, it := range s.Feed(data[i:min(i+chunk, len(data))]) {
				n += len(it.Text)
			}
		}
		n += len(s.Flush())
		if n > len(data) {
			t.Fatalf("splitter produced %d text bytes from %d input bytes", n, len(data))
		}
	})
}
