package kernel

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"strings"
	"time"
)

// protocolVersion is the version of the Jupyter messaging protocol ipclab
// speaks: 5.3 added interrupt_request on the control channel, 5.4 moved
// shutdown_request there too.
const protocolVersion = "5.4"

// delimiter separates the routing identities from the message proper.
const delimiter = "<IDS|MSG>"

// errBadSignature marks a message whose HMAC is missing or wrong.
var errBadSignature = errors.New("bad or missing HMAC signature")

// header is a Jupyter message header.
type header struct {
	MsgID    string `json:"msg_id"`
	Session  string `json:"session"`
	Username string `json:"username"`
	Date     string `json:"date"`
	MsgType  string `json:"msg_type"`
	Version  string `json:"version"`
}

// message is one message as it arrived: its routing identities, its parsed
// header, and the four signed parts exactly as they were on the wire.
type message struct {
	ids     [][]byte
	header  header
	parts   [4][]byte // header, parent_header, metadata, content
	buffers [][]byte
	seq     uint64 // arrival order on its socket
	// signature is the HMAC as sent ("" without a key): the replay guard's
	// key, since two messages never share one unless one is a copy.
	signature string
}

// rawHeader is the header exactly as received; replies carry it as their
// parent_header, unknown fields and all.
func (m *message) rawHeader() []byte { return m.parts[0] }

// content is the JSON content of m.
func (m *message) content() []byte { return m.parts[3] }

// signer computes and checks message signatures. A signer with no key signs
// with the empty string and accepts any signature, as the protocol says.
type signer struct {
	newHash func() hash.Hash
	key     []byte
}

var hashes = map[string]func() hash.Hash{
	"sha256": sha256.New,
	"sha224": sha256.New224,
	"sha384": sha512.New384,
	"sha512": sha512.New,
	"sha1":   sha1.New,
	"md5":    md5.New,
}

// newSigner returns the signer for a connection file's signature_scheme and
// key. An empty scheme means hmac-sha256.
func newSigner(scheme, key string) (signer, error) {
	if scheme == "" {
		scheme = "hmac-sha256"
	}
	alg, ok := strings.CutPrefix(scheme, "hmac-")
	h := hashes[alg]
	if !ok || h == nil {
		return signer{}, fmt.Errorf("unsupported signature_scheme %q (want hmac-sha256, hmac-sha512, hmac-sha384, hmac-sha224, hmac-sha1 or hmac-md5)", scheme)
	}
	return signer{newHash: h, key: []byte(key)}, nil
}

func (s signer) enabled() bool { return len(s.key) > 0 }

func (s signer) mac(parts [][]byte) []byte {
	m := hmac.New(s.newHash, s.key)
	for _, p := range parts {
		m.Write(p)
	}
	return m.Sum(nil)
}

// sign returns the hex signature of the four parts, or nil without a key.
func (s signer) sign(parts [][]byte) []byte {
	if !s.enabled() {
		return nil
	}
	sum := s.mac(parts)
	out := make([]byte, hex.EncodedLen(len(sum)))
	hex.Encode(out, sum)
	return out
}

// verify reports whether sig is the signature of the four parts, comparing
// in constant time.
func (s signer) verify(sig []byte, parts [][]byte) bool {
	if !s.enabled() {
		return true
	}
	want := s.mac(parts)
	if len(sig) != hex.EncodedLen(len(want)) {
		return false
	}
	got := make([]byte, len(want))
	if _, err := hex.Decode(got, sig); err != nil {
		return false
	}
	return hmac.Equal(got, want)
}

// decode parses the frames of one message and checks its signature. Anything
// a peer can send is handled with an error, never a panic.
func decode(frames [][]byte, s signer) (*message, error) {
	d := -1
	for i, f := range frames {
		if string(f) == delimiter {
			d = i
			break
		}
	}
	if d < 0 {
		return nil, fmt.Errorf("no %s delimiter in %d frames", delimiter, len(frames))
	}
	if n := len(frames) - d - 1; n < 5 {
		return nil, fmt.Errorf("%d frames after the delimiter, want at least 5 (signature, header, parent_header, metadata, content)", n)
	}
	parts := frames[d+2 : d+6]
	if !s.verify(frames[d+1], parts) {
		return nil, errBadSignature
	}
	m := &message{ids: frames[:d], buffers: frames[d+6:], signature: string(frames[d+1])}
	copy(m.parts[:], parts)
	if !isObject(parts[0]) {
		return nil, errors.New("header is not a JSON object")
	}
	if err := json.Unmarshal(parts[0], &m.header); err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	if m.header.MsgType == "" {
		return nil, errors.New("header has no msg_type")
	}
	for i, name := range [...]string{"parent_header", "metadata", "content"} {
		if !isObject(parts[i+1]) {
			return nil, fmt.Errorf("%s is not a JSON object", name)
		}
	}
	return m, nil
}

// isObject reports whether b is one valid JSON object.
func isObject(b []byte) bool {
	t := bytes.TrimLeft(b, " \t\r\n")
	return len(t) > 0 && t[0] == '{' && json.Valid(b)
}

// encode builds the frames of a message: ids, delimiter, signature, then
// header, parent_header (raw JSON, nil for none), metadata (nil for {}) and
// content, all signed.
func (s signer) encode(ids [][]byte, h header, parent []byte, metadata, content any) ([][]byte, error) {
	hb, err := marshal(h)
	if err != nil {
		return nil, fmt.Errorf("encode %s header: %w", h.MsgType, err)
	}
	if len(parent) == 0 {
		parent = []byte("{}")
	}
	mb := []byte("{}")
	if metadata != nil {
		if mb, err = marshal(metadata); err != nil {
			return nil, fmt.Errorf("encode %s metadata: %w", h.MsgType, err)
		}
	}
	cb, err := marshal(content)
	if err != nil {
		return nil, fmt.Errorf("encode %s content: %w", h.MsgType, err)
	}
	frames := make([][]byte, 0, len(ids)+6)
	frames = append(frames, ids...)
	parts := [][]byte{hb, parent, mb, cb}
	frames = append(frames, []byte(delimiter), s.sign(parts))
	return append(frames, parts...), nil
}

// marshal encodes v as compact JSON without HTML escaping (front ends get
// "<b>" rather than "\u003cb\u003e").
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// newID returns a random UUID (version 4) as Jupyter uses for ids.
func newID() string {
	var u [16]byte
	if _, err := rand.Read(u[:]); err != nil {
		// crypto/rand does not fail on supported platforms; fall back
		// to the clock rather than give every message the same id.
		now := time.Now().UnixNano()
		for i := range u {
			u[i] = byte(now >> (8 * (i % 8)))
		}
	}
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:])
}

// timestamp formats t as the ISO 8601 date Jupyter puts in headers
// (microseconds, UTC).
func timestamp(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000000Z07:00")
}
