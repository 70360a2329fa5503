package kernel

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestReadConnectionFile(t *testing.T) {
	tests := []struct {
		file    string
		wantErr string // substring; "" means success
	}{
		{"valid.json", ""},
		{"minimal.json", ""},
		{"ipc.json", ""},
		{"does_not_exist.json", "no such file"},
		{"bad_json.json", "not a JSON object"},
		{"missing_fields.json", "missing iopub_port, stdin_port, control_port, hb_port, key"},
		{"bad_scheme.json", `unsupported signature_scheme "hmac-sha3-256"`},
		{"bad_transport.json", `unsupported transport "udp"`},
		{"port_string.json", `field "shell_port" should be a JSON int`},
		{"port_range.json", "iopub_port 70000 is not a port number"},
		{"port_twice.json", "iopub_port and stdin_port are both 2"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join("testdata", "connection", tt.file)
			info, err := ReadConnectionFile(path)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), tt.file) {
				t.Errorf("err = %v; want it to name %s and say %q (info %+v)", err, tt.file, tt.wantErr, info)
			}
		})
	}
}

func TestConnectionDefaultsAndEndpoints(t *testing.T) {
	info, err := ReadConnectionFile(filepath.Join("testdata", "connection", "minimal.json"))
	if err != nil {
		t.Fatal(err)
	}
	if info.Transport != "tcp" || info.SignatureScheme != "hmac-sha256" || info.Key != "" {
		t.Errorf("defaults: %+v", info)
	}
	if got := info.endpoint(info.ShellPort); got != "tcp://[::1]:1" {
		t.Errorf("IPv6 endpoint = %q", got)
	}
	valid, _ := ReadConnectionFile(filepath.Join("testdata", "connection", "valid.json"))
	if got := valid.endpoint(valid.IOPubPort); got != "tcp://127.0.0.1:53795" || valid.KernelName != "ipclab" {
		t.Errorf("endpoint = %q, %+v", got, valid)
	}
	ipc, _ := ReadConnectionFile(filepath.Join("testdata", "connection", "ipc.json"))
	if got := ipc.endpoint(ipc.HBPort); got != "ipc:///tmp/kernel-x-5" {
		t.Errorf("ipc endpoint = %q", got)
	}
	if n, a := ipc.listenAddr(2); n != "unix" || a != "/tmp/kernel-x-2" {
		t.Errorf("ipc listen address = %s %s", n, a)
	}
}
