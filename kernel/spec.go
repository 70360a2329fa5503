package kernel

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
)

// Spec is a Jupyter kernel spec (kernel.json).
type Spec struct {
	Argv          []string          `json:"argv"`
	DisplayName   string            `json:"display_name"`
	Language      string            `json:"language"`
	InterruptMode string            `json:"interrupt_mode,omitempty"`
	Env           map[string]string `json:"env,omitempty"`
	Metadata      map[string]any    `json:"metadata,omitempty"`
}

// InstallSpec writes spec as dir/kernel.json, with the ipclab logo
// (logo-32x32.png, logo-64x64.png, logo-svg.svg) next to it, creating dir
// if needed. dir is the kernel's own directory, such as
// ~/.local/share/jupyter/kernels/ipclab.
func InstallSpec(dir string, spec Spec) error {
	if len(spec.Argv) == 0 {
		return fmt.Errorf("kernel spec for %s has no argv", dir)
	}
	body, err := marshalIndent(spec)
	if err != nil {
		return fmt.Errorf("encode kernel.json: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create kernel spec directory: %w", err)
	}
	files := map[string][]byte{"kernel.json": body, "logo-svg.svg": []byte(logoSVG)}
	for _, size := range []int{32, 64} {
		img, err := logoPNG(size)
		if err != nil {
			return fmt.Errorf("draw logo: %w", err)
		}
		files[fmt.Sprintf("logo-%dx%d.png", size, size)] = img
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return fmt.Errorf("write kernel spec: %w", err)
		}
	}
	return nil
}

func marshalIndent(v any) ([]byte, error) {
	b, err := marshal(v)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		return nil, err
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}

// The logo: two processes (discs) joined by a channel carrying a message,
// white on Go's blue, in a rounded square. Drawn from geometry, so the PNGs
// and the SVG agree at any size.
var (
	logoBlue  = color.NRGBA{0x00, 0xAD, 0xD8, 0xff}
	logoWhite = color.NRGBA{0xff, 0xff, 0xff, 0xff}
	logoDark  = color.NRGBA{0x00, 0x5F, 0x7A, 0xff}
)

// Geometry on a 64-unit square.
const (
	logoCorner = 12.0
	logoDiscR  = 10.0
	logoLeftX  = 17.0
	logoRightX = 47.0
	logoY      = 32.0
	logoBarH   = 6.0
	logoMsgR   = 5.0
)

const logoSVG = `<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64" viewBox="0 0 64 64">
  <rect width="64" height="64" rx="12" fill="#00ADD8"/>
  <rect x="17" y="29" width="30" height="6" fill="#FFFFFF"/>
  <circle cx="17" cy="32" r="10" fill="#FFFFFF"/>
  <circle cx="47" cy="32" r="10" fill="#FFFFFF"/>
  <circle cx="32" cy="32" r="5" fill="#005F7A"/>
</svg>
`

// logoColor is the logo's colour at (x, y) in 64-unit coordinates, and
// whether the point is inside the logo at all.
func logoColor(x, y float64) (color.NRGBA, bool) {
	// Rounded square.
	cx := math.Max(math.Max(logoCorner-x, x-(64-logoCorner)), 0)
	cy := math.Max(math.Max(logoCorner-y, y-(64-logoCorner)), 0)
	if x < 0 || y < 0 || x > 64 || y > 64 || cx*cx+cy*cy > logoCorner*logoCorner {
		return color.NRGBA{}, false
	}
	in := func(px, py, r float64) bool { return (x-px)*(x-px)+(y-py)*(y-py) <= r*r }
	switch {
	case in(32, logoY, logoMsgR):
		return logoDark, true
	case in(logoLeftX, logoY, logoDiscR), in(logoRightX, logoY, logoDiscR),
		x >= logoLeftX && x <= logoRightX && math.Abs(y-logoY) <= logoBarH/2:
		return logoWhite, true
	}
	return logoBlue, true
}

// logoPNG renders the logo at size×size pixels, antialiased by sampling
// each pixel 4×4 times.
func logoPNG(size int) ([]byte, error) {
	const ss = 4
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	scale := 64 / float64(size)
	for py := 0; py < size; py++ {
		for px := 0; px < size; px++ {
			var r, g, b, a float64
			for sy := 0; sy < ss; sy++ {
				for sx := 0; sx < ss; sx++ {
					x := (float64(px) + (float64(sx)+0.5)/ss) * scale
					y := (float64(py) + (float64(sy)+0.5)/ss) * scale
					if c, ok := logoColor(x, y); ok {
						r += float64(c.R)
						g += float64(c.G)
						b += float64(c.B)
						a++
					}
				}
			}
			if a == 0 {
				continue
			}
			img.SetNRGBA(px, py, color.NRGBA{
				R: uint8(r/a + 0.5), G: uint8(g/a + 0.5), B: uint8(b/a + 0.5),
				A: uint8(255*a/(ss*ss) + 0.5),
			})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
