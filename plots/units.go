package plots

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// formatBytes writes a message size with IEC units: 64 B, 4 KiB, 1 MiB, 1.5 KiB.
func formatBytes(n int) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	v := float64(n)
	i := 0
	for math.Abs(v) >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	return trimFloat(v, 3) + " " + units[i]
}

// formatSI writes v with three significant digits and an SI prefix:
// formatSI(12345678, "msg/s") is "12.3 Mmsg/s" when unit is glued, so callers
// pass the unit with its own spacing.
func formatSI(v float64, unit string) string {
	if v == 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return trimFloat(v, 3) + " " + unit
	}
	prefixes := []string{"", "k", "M", "G", "T", "P", "E"}
	i := 0
	a := math.Abs(v)
	for a >= 999.5 && i < len(prefixes)-1 {
		a /= 1000
		v /= 1000
		i++
	}
	return strings.TrimSpace(trimFloat(v, 3) + " " + prefixes[i] + unit)
}

// tickSI writes a power of ten compactly for an axis: 1, 10, 100, 1k, 10k, 1M.
func tickSI(v float64, unit string) string {
	s := formatSI(v, unit)
	if unit == "" {
		s = strings.ReplaceAll(s, " ", "")
	}
	return s
}

// trimFloat formats v with sig significant digits and no trailing zeros.
func trimFloat(v float64, sig int) string {
	if v == 0 {
		return "0"
	}
	digits := sig - 1 - int(math.Floor(math.Log10(math.Abs(v))))
	if digits < 0 {
		digits = 0
	}
	s := strconv.FormatFloat(v, 'f', digits, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

// formatDuration writes d with three significant digits: 845 ns, 1.23 µs, 12.3 ms.
func formatDuration(d time.Duration) string {
	ns := float64(d)
	switch a := math.Abs(ns); {
	case a < 1e3:
		return trimFloat(ns, 3) + " ns"
	case a < 999.5e3:
		return trimFloat(ns/1e3, 3) + " µs"
	case a < 999.5e6:
		return trimFloat(ns/1e6, 3) + " ms"
	default:
		return trimFloat(ns/1e9, 3) + " s"
	}
}

// formatRatio writes a speed-up: ×12.3, ×1.05, ×0.45.
func formatRatio(r float64) string {
	if r >= 100 {
		return fmt.Sprintf("×%.0f", r)
	}
	return "×" + trimFloat(r, 3)
}

func durationOf(ns float64) time.Duration { return time.Duration(math.Round(ns)) }
