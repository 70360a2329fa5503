// Package plots draws comparative charts of ipc results.
package plots
