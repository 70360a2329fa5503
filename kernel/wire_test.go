package kernel

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestSignerSchemes(t *testing.T) {
	parts := [][]byte{[]byte(`{"msg_type":"x"}`), []byte(`{}`), []byte(`{}`), []byte(`{"a":1}`)}
	for scheme, hexLen := range map[string]int{
		"": 64, "hmac-sha256": 64, "hmac-sha512": 128, "hmac-sha384": 96, "hmac-sha224": 56, "hmac-sha1": 40, "hmac-md5": 32,
	} {
		s, err := newSigner(scheme, "key")
		if err != nil {
			t.Fatalf("%q: %v", scheme, err)
		}
		sig := s.sign(parts)
		if len(sig) != hexLen || !s.verify(sig, parts) {
			t.Errorf("%q: signature %q does not verify", scheme, sig)
		}
		if s.verify(bytes.ToUpper(sig[:len(sig)-1]), parts) {
			t.Errorf("%q: a truncated signature verified", scheme)
		}
	}
	// Known answer: hmac.new(b"key", b"abcd", hashlib.sha256).hexdigest()
	// in Python, which signs the concatenation of the parts.
	s, _ := newSigner("hmac-sha256", "key")
	if got, want := string(s.sign([][]byte{[]byte("a"), []byte("b"), []byte("c"), []byte("d")})), "2a31ec0ee8d878c9eece9fb0df79b3b90b2256240163aa5ee50d176d3d1121f8"; got != want {
		t.Errorf("signature %s, want %s", got, want)
	}
	for _, bad := range []string{"hmac-sha3", "sha256", "rsa", "hmac-"} {
		if _, err := newSigner(bad, "k"); err == nil || !strings.Contains(err.Error(), "unsupported signature_scheme") {
			t.Errorf("%q: err = %v", bad, err)
		}
	}
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	for _, key := range []string{"", "secret"} {
		s, _ := newSigner("hmac-sha256", key)
		h := header{MsgID: newID(), Session: "s", Username: "u", Date: timestamp(time.Now()), MsgType: "execute_request", Version: protocolVersion}
		parent := []byte(`{"msg_id":"p","extra":[1,2]}`)
		frames, err := s.encode([][]byte{[]byte("id1"), []byte("id2")}, h, parent, map[string]any{"m": 1}, map[string]any{"code": "<b>&</b>"})
		if err != nil {
			t.Fatal(err)
		}
		frames = append(frames, []byte("buffer"))
		m, err := decode(frames, s)
		if err != nil {
			t.Fatalf("key %q: %v", key, err)
		}
		if len(m.ids) != 2 || string(m.ids[1]) != "id2" || m.header != h || string(m.parts[1]) != string(parent) ||
			string(m.content()) != `{"code":"<b>&</b>"}` || len(m.buffers) != 1 {
			t.Errorf("key %q: decoded %+v", key, m)
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	s, _ := newSigner("hmac-sha256", "k")
	ok := func(parts ...string) [][]byte {
		p := make([][]byte, len(parts))
		for i := range parts {
			p[i] = []byte(parts[i])
		}
		return append([][]byte{[]byte("id"), []byte(delimiter), s.sign(p)}, p...)
	}
	hdr := `{"msg_type":"kernel_info_request","msg_id":"1"}`
	if _, err := decode(ok(hdr, "{}", "{}", "{}"), s); err != nil {
		t.Fatalf("a good message: %v", err)
	}
	bad := ok(hdr, "{}", "{}", "{}")
	bad[2][0] ^= 1
	if _, err := decode(bad, s); !errors.Is(err, errBadSignature) {
		t.Errorf("flipped signature: %v", err)
	}
	for name, frames := range map[string][][]byte{
		"empty":          nil,
		"no delimiter":   {[]byte("a"), []byte("b")},
		"short":          {[]byte(delimiter), []byte("x"), []byte("{}")},
		"header array":   ok(`[]`, "{}", "{}", "{}"),
		"no msg_type":    ok(`{"msg_id":"1"}`, "{}", "{}", "{}"),
		"metadata array": ok(hdr, "{}", "[]", "{}"),
		"content string": ok(hdr, "{}", "{}", `"x"`),
		"trailing junk":  ok(hdr, "{} x", "{}", "{}"),
	} {
		if _, err := decode(frames, s); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
}

// FuzzDecode feeds decode arbitrary frames. The seed corpus is in
// testdata/fuzz/FuzzDecode. data is split into frames at 0xff 0xfe; with
// sign set, the frames after the first two get a valid signature, so the
// fuzzer reaches the JSON checks too.
func FuzzDecode(f *testing.F) {
	s, _ := newSigner("hmac-sha256", "fuzz")
	good, _ := s.encode([][]byte{[]byte("id")}, header{MsgID: "1", MsgType: "execute_request", Version: "5.3"}, nil, nil, map[string]any{"code": "x"})
	f.Add(bytes.Join(good, []byte{0xff, 0xfe}), false)
	f.Add([]byte("<IDS|MSG>\xff\xfe\xff\xfe{\"msg_type\":\"a\"}\xff\xfe{}\xff\xfe{}\xff\xfe{}"), true)
	f.Add([]byte("<IDS|MSG>"), true)
	f.Fuzz(func(t *testing.T, data []byte, sign bool) {
		frames := bytes.Split(data, []byte{0xff, 0xfe})
		if sign {
			for i, fr := range frames {
				if string(fr) == delimiter && len(frames) >= i+6 {
					frames[i+1] = s.sign(frames[i+2 : i+6])
					break
				}
			}
		}
		m, err := decode(frames, s)
		if err != nil {
			return
		}
		if m.header.MsgType == "" || !isObject(m.parts[0]) || !isObject(m.parts[1]) || !isObject(m.parts[2]) || !isObject(m.parts[3]) {
			t.Fatalf("decode accepted %q", frames)
		}
		// What decodes re-encodes and decodes to the same header.
		again, err := s.encode(m.ids, m.header, m.parts[1], json.RawMessage(m.parts[2]), json.RawMessage(m.parts[3]))
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		m2, err := decode(again, s)
		if err != nil || m2.header != m.header {
			t.Fatalf("round trip: %v, %+v vs %+v", err, m2, m)
		}
	})
}

func TestNewIDAndTimestamp(t *testing.T) {
	a, b := newID(), newID()
	if a == b || len(a) != 36 || a[14] != '4' {
		t.Errorf("ids %q %q", a, b)
	}
	ts := timestamp(time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.FixedZone("x", 3600)))
	if ts != "2024-05-06T06:08:09.123456Z" {
		t.Errorf("timestamp = %q", ts)
	}
}
