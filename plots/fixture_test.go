package plots

import "github.com/ipclab/ipclab/plots/internal/fixture"

var (
	synthetic     = fixture.Synthetic
	allTransports = fixture.AllTransports
	allSizes      = fixture.AllSizes
)
