package kernel

import (
	"strings"
	"testing"
	"time"

	"github.com/ipclab/ipclab/kernel/testdata/fakeengine"
)

// TestReplayedMessageDropped: a signed message sent again unchanged (same
// msg_id, valid signature) is answered once.
func TestReplayedMessageDropped(t *testing.T) {
	k := startKernel(t, &fakeengine.Engine{}, "secret")
	for _, sock := range []string{"shell", "control"} {
		frames, id := k.frames("kernel_info_request", map[string]any{}, k.sign)
		k.sendFrames(sock, frames)
		k.reply(sock, id, "kernel_info_reply")
		k.drain()
		k.sendFrames(sock, frames)
		k.expectNone(sock, 500*time.Millisecond)
	}
	if !strings.Contains(k.logs.String(), "replayed") {
		t.Fatal("the kernel log does not mention the replay")
	}
	// A new msg_id is still served.
	id := k.send("shell", "kernel_info_request", map[string]any{})
	k.reply("shell", id, "kernel_info_reply")
}

// TestHugeMsgTypeLoggedShort: a 10 MB msg_type is cut in the log line.
func TestHugeMsgTypeLoggedShort(t *testing.T) {
	k := startKernel(t, &fakeengine.Engine{}, "secret")
	huge := strings.Repeat("x", 10<<20)
	k.send("shell", huge, map[string]any{})
	id := k.send("shell", "kernel_info_request", map[string]any{})
	k.reply("shell", id, "kernel_info_reply") // handled after the huge one
	logs := k.logs.String()
	if !strings.Contains(logs, "bytes)") {
		t.Fatalf("no truncated field in the log:\n%.2000s", logs)
	}
	for _, line := range strings.Split(logs, "\n") {
		if len(line) > 4096 {
			t.Fatalf("a log line of %d bytes: %.300s…", len(line), line)
		}
	}
}

// TestSameMsgIDDifferentMessages: jupyter_client's KernelManager and its
// client count msg_ids separately under one session id, so an
// interrupt_request may carry an execute_request's msg_id. Both are served:
// only an unchanged copy is a replay.
func TestSameMsgIDDifferentMessages(t *testing.T) {
	k := startKernel(t, &fakeengine.Engine{}, "secret")
	id := newID()
	for i, sock := range []string{"shell", "control"} {
		h := header{MsgID: id, Session: k.session, Username: "test", Date: timestamp(time.Now().Add(time.Duration(i) * time.Millisecond)), MsgType: "kernel_info_request", Version: protocolVersion}
		frames, err := k.sign.encode(nil, h, nil, nil, map[string]any{})
		if err != nil {
			t.Fatal(err)
		}
		k.sendFrames(sock, frames)
		k.reply(sock, id, "kernel_info_reply")
		k.drain()
	}
	if strings.Contains(k.logs.String(), "replayed") {
		t.Fatalf("a message that only shares a msg_id was dropped as a replay:\n%s", k.logs.String())
	}
}
