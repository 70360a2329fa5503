package plots

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/ipclab/ipclab/ipc"
)

// WriteFile writes a chart of results to path, as SVG or PNG by the file's
// extension (.svg, .png): a throughput chart when the results include stream
// results, else a latency chart of the ping-pong results. It is what
// `ipclab bench --plot` calls. A throughput chart also draws refs
// (`ipclab bench --compare --plot` passes the C limit).
func WriteFile(path string, results ipc.Results, refs ...Reference) error {
	chart := Throughput(results).References(refs...)
	for _, r := range results {
		if modeOf(r) == ipc.Stream {
			return chart.Save(path)
		}
	}
	return Latency(results).Save(path)
}

// Save writes the chart to path as SVG or PNG, by the file's extension.
func (c Chart) Save(path string) error {
	ext := strings.ToLower(filepath.Ext(path))
	var format string
	switch ext {
	case ".svg":
		format = "svg"
	case ".png":
		format = "png"
	default:
		return fmt.Errorf("plots: write %s: unsupported extension %q (use .svg or .png)", path, ext)
	}
	b, err := c.encode(format)
	if err != nil {
		return fmt.Errorf("plots: write %s: %w", path, err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("plots: %w", err)
	}
	return nil
}
