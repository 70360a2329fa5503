package plots

import (
	"sync"

	"github.com/ipclab/ipclab/display"
	"github.com/ipclab/ipclab/ipc"
)

// LiveChart is a chart that redraws in place as results arrive, so that a
// running experiment shows its chart growing under the cell. It keeps the
// results it was given; a result for a transport, mode and size it already
// has replaces the old one, so re-running an experiment updates its points.
// It is safe for use by several goroutines.
type LiveChart struct {
	id    string
	chart func(ipc.Results) Chart

	mu      sync.Mutex
	results ipc.Results
}

// Live returns a live chart shown as the output named id, drawn by chart
// (plots.Throughput, plots.Latency, or any func(ipc.Results) Chart, such as
// one that sets a size or a speed-up baseline). Nothing is shown until the
// first Add. Using the same id in a later cell moves the output there.
func Live(id string, chart func(ipc.Results) Chart) *LiveChart {
	return &LiveChart{id: id, chart: chart}
}

// Add records results and redraws the chart in place.
func (l *LiveChart) Add(results ...ipc.Result) error {
	l.mu.Lock()
	for _, r := range results {
		replaced := false
		for i, old := range l.results {
			if seriesOf(old) == seriesOf(r) && modeOf(old) == modeOf(r) && old.SizeBytes == r.SizeBytes {
				l.results[i], replaced = r, true
				break
			}
		}
		if !replaced {
			l.results = append(l.results, r)
		}
	}
	c := l.chartLocked()
	l.mu.Unlock()
	return display.Update(l.id, c)
}

// Results returns a copy of the results recorded so far.
func (l *LiveChart) Results() ipc.Results {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append(ipc.Results(nil), l.results...)
}

// Chart returns the chart as it is now, for showing or saving elsewhere.
func (l *LiveChart) Chart() Chart {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.chartLocked()
}

func (l *LiveChart) chartLocked() Chart {
	rs := append(ipc.Results(nil), l.results...)
	if l.chart == nil {
		return Throughput(rs)
	}
	return l.chart(rs)
}
