// Package ipclab holds the source of the packages that notebook cells import
// (check, display, ipc, plots, verdict), so that the kernel can build cells against exactly
// the version it was built with, wherever it is installed.
package ipclab

import "embed"

// Source is the module's go.mod, go.sum and the packages cells may import.
//
//go:embed go.mod go.sum check display internal ipc plots verdict
var Source embed.FS
