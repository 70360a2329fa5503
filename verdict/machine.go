package verdict

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ipclab/ipclab/display"
	"github.com/ipclab/ipclab/ipc"
)

// MachineMIME is the MIME type under which a Machine's JSON travels.
const MachineMIME = "application/vnd.ipclab.machine+json"

// Machine is where a notebook's numbers were measured: ipc's Environment
// (host, CPU model, CPUs, Go, Linux), the load averages, the CPUs this
// process may run on, and the ipclab version.
type Machine struct {
	ipc.Environment
	// Load is /proc/loadavg's 1, 5 and 15 minute averages.
	Load [3]float64 `json:"load"`
	// Allowed is the number of CPUs this process may run on (taskset).
	Allowed int `json:"cpus_allowed"`
	// Ipclab is the kernel's version ("ipclab 0.1.0-dev (go1.26.8 linux/amd64)"),
	// or "unknown" outside the kernel.
	Ipclab string `json:"ipclab"`
}

// CurrentMachine describes this machine now.
func CurrentMachine() Machine {
	m := Machine{Environment: ipc.CurrentEnvironment(), Ipclab: ipclabVersion()}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		f := strings.Fields(string(b))
		for i := 0; i < 3 && i < len(f); i++ {
			m.Load[i], _ = strconv.ParseFloat(f[i], 64)
		}
	}
	m.Allowed = len(m.AllowedCPUs)
	return m
}

// ipclabVersion asks the ipclab binary: IPCLAB_EXE if set, else the process
// that started this one when it is ipclab (the kernel starts the session
// process), else ipclab on PATH.
func ipclabVersion() string {
	exe := Executable()
	if exe == "" {
		return "unknown"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, exe, "version").Output()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(out))
}

// Executable returns the path of the ipclab command (for `ipclab worker`,
// `ipclab bench`), or "" if it cannot be found: IPCLAB_EXE, else the parent
// process when it is ipclab (the kernel starts the session process), else
// ipclab on PATH.
func Executable() string {
	if p := os.Getenv("IPCLAB_EXE"); p != "" {
		return p
	}
	parent := fmt.Sprintf("/proc/%d/exe", os.Getppid())
	if target, err := os.Readlink(parent); err == nil && strings.HasPrefix(filepath.Base(target), "ipclab") {
		// /proc/PID/exe works even if the file was replaced since.
		return parent
	}
	if p, err := exec.LookPath("ipclab"); err == nil {
		return p
	}
	return ""
}

// String is the machine in two lines.
func (m Machine) String() string {
	return fmt.Sprintf("%s: %s, %d CPUs (%d allowed), load %.2f %.2f %.2f\n%s %s/%s, Linux %s, %s, %s",
		m.Hostname, m.CPUModel, m.CPUs, m.Allowed, m.Load[0], m.Load[1], m.Load[2],
		m.GoVersion, m.OS, m.Arch, m.KernelVersion, m.Ipclab, m.Date.UTC().Format(time.RFC3339))
}

// JSON is the machine as a JSON object.
func (m Machine) JSON() map[string]any {
	var out map[string]any
	b, _ := json.Marshal(m)
	json.Unmarshal(b, &out)
	return out
}

// HTML is the machine as a small table.
func (m Machine) HTML() string {
	rows := [][2]string{
		{"host", m.Hostname},
		{"CPU", m.CPUModel},
		{"CPUs", fmt.Sprintf("%d (this process may use %d)", m.CPUs, m.Allowed)},
		{"load (1, 5, 15 min)", fmt.Sprintf("%.2f, %.2f, %.2f", m.Load[0], m.Load[1], m.Load[2])},
		{"Go", m.GoVersion + " " + m.OS + "/" + m.Arch},
		{"Linux", m.KernelVersion},
		{"ipclab", m.Ipclab},
		{"date", m.Date.UTC().Format(time.RFC3339)},
	}
	var b strings.Builder
	b.WriteString(`<table class="ipclab-machine">`)
	for _, r := range rows {
		fmt.Fprintf(&b, `<tr><th style="text-align:left">%s</th><td style="text-align:left">%s</td></tr>`, html.EscapeString(r[0]), html.EscapeString(r[1]))
	}
	b.WriteString(`</table>`)
	return b.String()
}

// Render is the display bundle: HTML, text, and the JSON under MachineMIME
// and in the metadata ("ipclab": {"machine": …}).
func (m Machine) Render() display.Data {
	return bundle(m.HTML(), m.String(), MachineMIME, "machine", m.JSON())
}
