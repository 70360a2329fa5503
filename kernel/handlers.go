package kernel

import (
	"encoding/json"
	"fmt"
	"runtime/debug"
	"strings"
	"unicode/utf8"

	"github.com/go-zeromq/zmq4"
)

// channel is a ROUTER socket requests arrive on and replies go back to.
type channel struct {
	name string
	sock zmq4.Socket
}

// handle serves one request: status busy, the reply (and whatever the
// request publishes), status idle — all with the request as parent.
func (k *kernel) handle(ch channel, m *message) {
	t := m.header.MsgType
	if t == "interrupt_request" {
		// Act first: busy/idle may wait behind a flood of output.
		k.interrupt(ch.name + " interrupt_request")
	}
	k.iopub.status(m, "busy")
	shutdown := false
	switch t {
	case "kernel_info_request":
		k.reply(ch, m, "kernel_info_reply", k.kernelInfo(), nil)
	case "execute_request", "complete_request", "inspect_request", "is_complete_request":
		if ch.name != "shell" {
			reply, _ := strings.CutSuffix(t, "_request")
			k.replyError(ch, m, reply+"_reply", "WrongChannel", t+" is served on the shell channel only")
			break
		}
		switch t {
		case "execute_request":
			k.execute(ch, m)
		case "complete_request":
			k.complete(ch, m)
		case "inspect_request":
			k.inspect(ch, m)
		case "is_complete_request":
			k.isComplete(ch, m)
		}
	case "history_request":
		k.history(ch, m)
	case "comm_info_request":
		var c struct {
			TargetName string `json:"target_name"`
		}
		if err := unmarshalContent(m, &c); err != nil {
			k.replyError(ch, m, "comm_info_reply", "BadRequest", err.Error())
			break
		}
		// No comm targets are registered, so there are no open comms,
		// whatever target_name asks for.
		k.reply(ch, m, "comm_info_reply", map[string]any{"status": "ok", "comms": map[string]any{}}, nil)
	case "comm_open":
		var c struct {
			CommID     string `json:"comm_id"`
			TargetName string `json:"target_name"`
		}
		if err := unmarshalContent(m, &c); err != nil || c.CommID == "" {
			k.log.Warn("ignored a comm_open without comm_id", "err", err)
			break
		}
		k.log.Info("closing a comm for an unknown target", "target_name", c.TargetName, "comm_id", c.CommID)
		k.iopub.send(m, "comm_close", map[string]any{"comm_id": c.CommID, "data": map[string]any{}})
	case "comm_msg", "comm_close":
		k.log.Debug("ignored a message for an unknown comm", "msg_type", t)
	case "shutdown_request":
		shutdown = k.shutdownRequest(ch, m)
	case "interrupt_request":
		k.reply(ch, m, "interrupt_reply", map[string]any{"status": "ok"}, nil)
	case "connect_request":
		k.reply(ch, m, "connect_reply", map[string]any{
			"status": "ok", "shell_port": k.info.ShellPort, "iopub_port": k.info.IOPubPort,
			"stdin_port": k.info.StdinPort, "hb_port": k.info.HBPort, "control_port": k.info.ControlPort,
		}, nil)
	default:
		if base, ok := strings.CutSuffix(t, "_request"); ok {
			k.log.Info("unsupported request", "msg_type", t, "channel", ch.name)
			k.replyError(ch, m, base+"_reply", "UnsupportedRequest", "ipclab does not handle "+t)
		} else {
			k.log.Info("ignored a message of unknown type", "msg_type", t, "channel", ch.name)
		}
	}
	k.iopub.status(m, "idle")
	if shutdown {
		k.requestShutdown()
	}
}

// reply sends a reply to m on ch.
func (k *kernel) reply(ch channel, m *message, msgType string, content, metadata any) {
	if len(m.ids) == 0 {
		k.log.Warn("cannot reply to a message without routing identity", "msg_type", m.header.MsgType)
		return
	}
	frames, err := k.sign.encode(m.ids, k.newHeader(msgType), m.rawHeader(), metadata, content)
	if err != nil {
		k.log.Error("cannot encode reply", "msg_type", msgType, "err", err)
		return
	}
	if err := ch.sock.Send(zmq4.NewMsgFrom(frames...)); err != nil {
		k.log.Warn("sending reply failed", "channel", ch.name, "msg_type", msgType, "err", err)
	}
}

// replyError sends a reply with status error.
func (k *kernel) replyError(ch channel, m *message, msgType, ename, evalue string) {
	k.reply(ch, m, msgType, errorReply{Status: "error", Ename: ename, Evalue: evalue, Traceback: []string{ename + ": " + evalue}}, nil)
}

type errorReply struct {
	Status    string   `json:"status"`
	Ename     string   `json:"ename"`
	Evalue    string   `json:"evalue"`
	Traceback []string `json:"traceback"`
}

func unmarshalContent(m *message, v any) error {
	if err := json.Unmarshal(m.content(), v); err != nil {
		return fmt.Errorf("content of %s: %w", m.header.MsgType, err)
	}
	return nil
}

// guard runs an engine call, turning a panic into an error so that a bug in
// the engine costs one reply, not the kernel.
func (k *kernel) guard(what string, f func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			k.log.Error("the engine panicked", "in", what, "panic", r, "stack", string(debug.Stack()))
			err = fmt.Errorf("ipclab engine panicked in %s: %v", what, r)
		}
	}()
	f()
	return nil
}

type languageInfo struct {
	Name              string `json:"name"`
	Version           string `json:"version"`
	Mimetype          string `json:"mimetype"`
	FileExtension     string `json:"file_extension"`
	PygmentsLexer     string `json:"pygments_lexer"`
	CodemirrorMode    string `json:"codemirror_mode"`
	NbconvertExporter string `json:"nbconvert_exporter"`
}

type kernelInfo struct {
	Status                string       `json:"status"`
	ProtocolVersion       string       `json:"protocol_version"`
	Implementation        string       `json:"implementation"`
	ImplementationVersion string       `json:"implementation_version"`
	LanguageInfo          languageInfo `json:"language_info"`
	Banner                string       `json:"banner"`
	Debugger              bool         `json:"debugger"`
	HelpLinks             []HelpLink   `json:"help_links"`
}

func (k *kernel) kernelInfo() kernelInfo {
	return kernelInfo{
		Status:                "ok",
		ProtocolVersion:       protocolVersion,
		Implementation:        "ipclab",
		ImplementationVersion: k.opts.ImplementationVersion,
		LanguageInfo: languageInfo{
			Name: "go", Version: k.opts.LanguageVersion, Mimetype: "text/x-go",
			FileExtension: ".go", PygmentsLexer: "go", CodemirrorMode: "go",
			NbconvertExporter: "script",
		},
		Banner:    k.opts.Banner,
		HelpLinks: k.opts.HelpLinks,
	}
}

// cursorIn clamps a request's cursor_pos (code points; absent means the
// end) to code.
func cursorIn(code string, pos *int) int {
	n := utf8.RuneCountInString(code)
	if pos == nil || *pos > n {
		return n
	}
	return max(*pos, 0)
}

func (k *kernel) complete(ch channel, m *message) {
	var c struct {
		Code      string `json:"code"`
		CursorPos *int   `json:"cursor_pos"`
	}
	if err := unmarshalContent(m, &c); err != nil {
		k.replyError(ch, m, "complete_reply", "BadRequest", err.Error())
		return
	}
	cursor := cursorIn(c.Code, c.CursorPos)
	var res struct {
		matches    []string
		start, end int
		metadata   map[string]any
	}
	err := k.guard("Complete", func() {
		r := k.eng.Complete(c.Code, cursor)
		res.matches, res.start, res.end, res.metadata = r.Matches, r.CursorStart, r.CursorEnd, r.Metadata
	})
	if err != nil {
		k.replyError(ch, m, "complete_reply", "InternalError", err.Error())
		return
	}
	if res.matches == nil {
		res.matches = []string{}
	}
	if res.start < 0 || res.end < res.start {
		res.start, res.end = cursor, cursor
	}
	if res.metadata == nil {
		res.metadata = map[string]any{}
	}
	k.reply(ch, m, "complete_reply", map[string]any{
		"status": "ok", "matches": res.matches, "cursor_start": res.start, "cursor_end": res.end,
		"metadata": res.metadata,
	}, nil)
}

func (k *kernel) inspect(ch channel, m *message) {
	var c struct {
		Code        string `json:"code"`
		CursorPos   *int   `json:"cursor_pos"`
		DetailLevel int    `json:"detail_level"`
	}
	if err := unmarshalContent(m, &c); err != nil {
		k.replyError(ch, m, "inspect_reply", "BadRequest", err.Error())
		return
	}
	var in struct {
		found          bool
		data, metadata map[string]any
	}
	err := k.guard("Inspect", func() {
		r := k.eng.Inspect(c.Code, cursorIn(c.Code, c.CursorPos), c.DetailLevel)
		in.found, in.data, in.metadata = r.Found, r.Data, r.Metadata
	})
	if err != nil {
		k.replyError(ch, m, "inspect_reply", "InternalError", err.Error())
		return
	}
	if in.data == nil {
		in.data = map[string]any{}
	}
	if in.metadata == nil {
		in.metadata = map[string]any{}
	}
	k.reply(ch, m, "inspect_reply", map[string]any{
		"status": "ok", "found": in.found && len(in.data) > 0, "data": in.data, "metadata": in.metadata,
	}, nil)
}

func (k *kernel) isComplete(ch channel, m *message) {
	var c struct {
		Code string `json:"code"`
	}
	if err := unmarshalContent(m, &c); err != nil {
		k.replyError(ch, m, "is_complete_reply", "BadRequest", err.Error())
		return
	}
	var status, indent string
	if err := k.guard("IsComplete", func() {
		r := k.eng.IsComplete(c.Code)
		status, indent = r.Status, r.Indent
	}); err != nil {
		status = "unknown"
	}
	content := map[string]any{"status": status}
	switch status {
	case "incomplete":
		content["indent"] = indent
	case "complete", "invalid", "unknown":
	default:
		k.log.Warn("the engine returned an unknown is_complete status", "status", status)
		content["status"] = "unknown"
	}
	k.reply(ch, m, "is_complete_reply", content, nil)
}

func (k *kernel) history(ch channel, m *message) {
	var q historyQuery
	if err := unmarshalContent(m, &q); err != nil {
		k.replyError(ch, m, "history_reply", "BadRequest", err.Error())
		return
	}
	entries, err := k.hist.query(q)
	if err != nil {
		k.replyError(ch, m, "history_reply", "BadRequest", err.Error())
		return
	}
	k.reply(ch, m, "history_reply", map[string]any{"status": "ok", "history": entries}, nil)
}

// shutdownRequest replies on ch and, as protocol 5.4 has it, publishes the
// reply on IOPub too. It reports whether the kernel should now stop.
func (k *kernel) shutdownRequest(ch channel, m *message) bool {
	var c struct {
		Restart bool `json:"restart"`
	}
	if err := unmarshalContent(m, &c); err != nil {
		k.replyError(ch, m, "shutdown_reply", "BadRequest", err.Error())
		return false
	}
	if ch.name != "control" {
		k.log.Info("shutdown_request on the shell channel (deprecated since protocol 5.4)")
	}
	content := map[string]any{"status": "ok", "restart": c.Restart}
	k.reply(ch, m, "shutdown_reply", content, nil)
	k.iopub.send(m, "shutdown_reply", content)
	k.log.Info("shutdown requested", "restart", c.Restart)
	return true
}
