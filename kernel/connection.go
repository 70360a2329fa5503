package kernel

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
)

// ConnectionInfo is the content of the connection file Jupyter writes for a
// kernel: where to bind each socket and how to sign messages.
type ConnectionInfo struct {
	Transport       string `json:"transport"` // "tcp" (default) or "ipc"
	IP              string `json:"ip"`
	ShellPort       int    `json:"shell_port"`
	IOPubPort       int    `json:"iopub_port"`
	StdinPort       int    `json:"stdin_port"`
	ControlPort     int    `json:"control_port"`
	HBPort          int    `json:"hb_port"`
	Key             string `json:"key"`              // empty: messages are not signed
	SignatureScheme string `json:"signature_scheme"` // default "hmac-sha256"
	KernelName      string `json:"kernel_name,omitempty"`
}

// requiredFields are the connection file keys without which a kernel cannot
// know where to listen or how to sign.
var requiredFields = []string{"ip", "shell_port", "iopub_port", "stdin_port", "control_port", "hb_port", "key"}

// ReadConnectionFile reads and checks a connection file. The errors name the
// file and what is wrong with it: unreadable, not JSON, fields missing or of
// the wrong type, an unsupported transport or signature_scheme, bad ports.
func ReadConnectionFile(path string) (ConnectionInfo, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return ConnectionInfo{}, fmt.Errorf("read connection file: %w", err)
	}
	info, err := parseConnection(data)
	if err != nil {
		return ConnectionInfo{}, fmt.Errorf("connection file %s: %w", path, err)
	}
	return info, nil
}

func parseConnection(data []byte) (ConnectionInfo, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil {
		return ConnectionInfo{}, fmt.Errorf("not a JSON object: %w", err)
	}
	var missing []string
	for _, f := range requiredFields {
		if _, ok := fields[f]; !ok {
			missing = append(missing, f)
		}
	}
	if len(missing) > 0 {
		return ConnectionInfo{}, fmt.Errorf("missing %s", strings.Join(missing, ", "))
	}
	var info ConnectionInfo
	if err := json.Unmarshal(data, &info); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return ConnectionInfo{}, fmt.Errorf("field %q should be a JSON %s, not %s", te.Field, te.Type, te.Value)
		}
		return ConnectionInfo{}, err
	}
	if info.Transport == "" {
		info.Transport = "tcp"
	}
	if info.SignatureScheme == "" {
		info.SignatureScheme = "hmac-sha256"
	}
	return info, info.check()
}

// check reports what makes c unusable.
func (c ConnectionInfo) check() error {
	switch c.Transport {
	case "tcp", "ipc", "":
	default:
		return fmt.Errorf("unsupported transport %q (want tcp or ipc)", c.Transport)
	}
	if c.IP == "" {
		return errors.New("ip is empty")
	}
	seen := map[int]string{}
	for _, p := range c.ports() {
		if p.port < 1 || p.port > 65535 {
			return fmt.Errorf("%s_port %d is not a port number (1-65535)", p.name, p.port)
		}
		if other, dup := seen[p.port]; dup {
			return fmt.Errorf("%s_port and %s_port are both %d", other, p.name, p.port)
		}
		seen[p.port] = p.name
	}
	_, err := newSigner(c.SignatureScheme, c.Key)
	return err
}

type namedPort struct {
	name string
	port int
}

func (c ConnectionInfo) ports() []namedPort {
	return []namedPort{
		{"shell", c.ShellPort}, {"iopub", c.IOPubPort}, {"stdin", c.StdinPort},
		{"control", c.ControlPort}, {"hb", c.HBPort},
	}
}

// endpoint is the ZeroMQ endpoint of a port: tcp://IP:PORT, or for the ipc
// transport ipc://IP-PORT as jupyter_client names it.
func (c ConnectionInfo) endpoint(port int) string {
	if c.Transport == "ipc" {
		return "ipc://" + c.IP + "-" + strconv.Itoa(port)
	}
	return "tcp://" + net.JoinHostPort(c.IP, strconv.Itoa(port))
}

// listenAddr is the network and address net.Listen takes for a port.
func (c ConnectionInfo) listenAddr(port int) (network, addr string) {
	if c.Transport == "ipc" {
		return "unix", c.IP + "-" + strconv.Itoa(port)
	}
	return "tcp", net.JoinHostPort(c.IP, strconv.Itoa(port))
}
