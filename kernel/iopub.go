package kernel

import (
	"log/slog"
	"time"
	"unicode/utf8"
)

const (
	// streamDelay is how long stream text may wait for more text to join
	// it in one message.
	streamDelay = 40 * time.Millisecond
	// streamMax is the most text one stream message carries.
	streamMax = 64 << 10
	// iopubQueue bounds what producers may hand the iopub owner before
	// they wait for it.
	iopubQueue = 256
)

// iopub owns the IOPub socket: every message for it goes through one
// goroutine (run), in the order it was handed over. Stream text is gathered
// there until streamDelay has passed since its first byte, streamMax bytes
// are waiting, another stream or parent starts, or any other message comes
// (stream text always goes out first, so order is kept).
type iopub struct {
	pub     *publisher
	sign    signer
	newHdr  func(msgType string) header
	session string
	log     *slog.Logger

	in       chan iopubItem
	quit     chan struct{}
	finished chan struct{}

	// owned by run
	pend    []byte
	pendFor *message
	pendTo  string // stream name
	timer   *time.Timer
	armed   bool
}

type iopubItem struct {
	parent  *message // nil: no parent
	msgType string   // "" for stream text and flush marks
	content any
	stream  string // stream name when this is stream text
	text    string
	flushed chan struct{} // a flush mark: closed once everything before it is out
}

func newIOPub(pub *publisher, sign signer, newHdr func(string) header, session string, log *slog.Logger) *iopub {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &iopub{
		pub: pub, sign: sign, newHdr: newHdr, session: session, log: log,
		in:       make(chan iopubItem, iopubQueue),
		quit:     make(chan struct{}),
		finished: make(chan struct{}),
		timer:    t,
	}
}

// put hands it to the owner, waiting while the queue is full. After the
// owner has stopped, items are dropped.
func (o *iopub) put(it iopubItem) bool {
	select {
	case o.in <- it:
		return true
	case <-o.finished:
		return false
	}
}

// send publishes a message with the given parent.
func (o *iopub) send(parent *message, msgType string, content any) {
	o.put(iopubItem{parent: parent, msgType: msgType, content: content})
}

// status publishes an execution_state.
func (o *iopub) status(parent *message, state string) {
	o.send(parent, "status", map[string]string{"execution_state": state})
}

// stream adds text to the named stream.
func (o *iopub) stream(parent *message, name, text string) {
	if text != "" {
		o.put(iopubItem{parent: parent, stream: name, text: text})
	}
}

// flush returns a channel closed once everything handed over before it has
// gone to the publisher (or the owner has stopped).
func (o *iopub) flush() <-chan struct{} {
	done := make(chan struct{})
	if !o.put(iopubItem{flushed: done}) {
		close(done)
	}
	return done
}

// stop makes run publish what it holds and return; it waits for that.
func (o *iopub) stop() {
	close(o.quit)
	<-o.finished
}

func (o *iopub) run() {
	defer close(o.finished)
	for {
		var tick <-chan time.Time
		if o.armed {
			tick = o.timer.C
		}
		select {
		case it := <-o.in:
			o.handle(it)
		case <-tick:
			o.armed = false
			o.flushStream(false)
		case <-o.quit:
			for {
				select {
				case it := <-o.in:
					o.handle(it)
				default:
					o.flushStream(true)
					return
				}
			}
		}
	}
}

func (o *iopub) handle(it iopubItem) {
	switch {
	case it.flushed != nil:
		o.flushStream(true)
		close(it.flushed)
	case it.msgType == "":
		if len(o.pend) > 0 && (o.pendTo != it.stream || o.pendFor != it.parent) {
			o.flushStream(true)
		}
		if len(o.pend) == 0 {
			o.pendFor, o.pendTo = it.parent, it.stream
			o.arm()
		}
		o.pend = append(o.pend, it.text...)
		for len(o.pend) >= streamMax {
			n := completeUTF8(o.pend[:streamMax])
			if n == 0 {
				n = streamMax
			}
			o.publishStream(n)
		}
		if len(o.pend) == 0 {
			o.disarm()
		}
	default:
		o.flushStream(true)
		o.publish(it.parent, it.msgType, it.content)
	}
}

func (o *iopub) arm() {
	if !o.armed {
		o.timer.Reset(streamDelay)
		o.armed = true
	}
}

func (o *iopub) disarm() {
	if o.armed {
		o.timer.Stop()
		o.armed = false
	}
}

// flushStream publishes the pending stream text. Unless final, a rune split
// at the end stays back for the text that completes it — once: if nothing
// completes it within streamDelay it goes out as it is.
func (o *iopub) flushStream(final bool) {
	if len(o.pend) == 0 {
		o.disarm()
		return
	}
	n := len(o.pend)
	if !final {
		if n = completeUTF8(o.pend); n == 0 {
			n = len(o.pend)
		}
	}
	o.publishStream(n)
	o.disarm()
	if len(o.pend) > 0 {
		o.arm()
	}
}

// publishStream sends the first n pending bytes as one stream message.
func (o *iopub) publishStream(n int) {
	text := string(o.pend[:n])
	rest := copy(o.pend, o.pend[n:])
	o.pend = o.pend[:rest]
	if cap(o.pend) > 4*streamMax && rest < streamMax {
		o.pend = append([]byte(nil), o.pend...) // give back a huge buffer
	}
	o.publish(o.pendFor, "stream", streamContent{Name: o.pendTo, Text: text})
}

type streamContent struct {
	Name string `json:"name"`
	Text string `json:"text"`
}

func (o *iopub) publish(parent *message, msgType string, content any) {
	topic := "kernel." + o.session + "." + msgType
	if sc, ok := content.(streamContent); ok {
		topic = "stream." + sc.Name
	}
	var ph []byte
	if parent != nil {
		ph = parent.rawHeader()
	}
	frames, err := o.sign.encode([][]byte{[]byte(topic)}, o.newHdr(msgType), ph, nil, content)
	if err != nil {
		o.log.Error("iopub: cannot encode message", "msg_type", msgType, "err", err)
		return
	}
	o.pub.publish(frames)
}

// completeUTF8 returns the length of the longest prefix of b that does not
// end inside a UTF-8 sequence: len(b) unless the last rune is cut short.
func completeUTF8(b []byte) int {
	for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
		if utf8.RuneStart(b[i]) {
			if utf8.FullRune(b[i:]) {
				return len(b)
			}
			return i
		}
	}
	return len(b)
}
