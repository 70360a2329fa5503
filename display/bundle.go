package display

import (
	"fmt"
	"image"
	"reflect"
)

// Renderer is a value that builds its whole output itself.
type Renderer interface{ Render() Data }

// Bundle returns the output for v. A Data is returned as it is; a Renderer
// renders itself. Otherwise every representation v's type offers is
// collected: HTML() string, Markdown() string, SVG() string, PNG() []byte,
// JPEG() []byte, Latex() string, JSON() map[string]any, JavaScript() string,
// and image.Image values become PNG. text/plain is always present: String()
// or Text() when defined, else fmt's %v.
func Bundle(v any) Data {
	switch x := v.(type) {
	case Data:
		return ensureText(x, v)
	case *Data:
		if x != nil {
			return ensureText(*x, v)
		}
	case Renderer:
		if !isNilPointer(v) {
			return ensureText(x.Render(), v)
		}
	}
	d := Data{Data: MIMEMap{}}
	if isNilPointer(v) {
		d.Data[MIMETypeText] = fmt.Sprint(v)
		return d
	}
	if x, ok := v.(interface{ HTML() string }); ok {
		d.Data[MIMETypeHTML] = x.HTML()
	}
	if x, ok := v.(interface{ Markdown() string }); ok {
		d.Data[MIMETypeMarkdown] = x.Markdown()
	}
	if x, ok := v.(interface{ SVG() string }); ok {
		d.Data[MIMETypeSVG] = x.SVG()
	}
	if x, ok := v.(interface{ PNG() []byte }); ok {
		d.Data[MIMETypePNG] = Any(MIMETypePNG, x.PNG()).Data[MIMETypePNG]
	}
	if x, ok := v.(interface{ JPEG() []byte }); ok {
		d.Data[MIMETypeJPEG] = Any(MIMETypeJPEG, x.JPEG()).Data[MIMETypeJPEG]
	}
	if x, ok := v.(interface{ Latex() string }); ok {
		d.Data[MIMETypeLatex] = x.Latex()
	}
	if x, ok := v.(interface{ JSON() map[string]any }); ok {
		d.Data[MIMETypeJSON] = x.JSON()
	}
	if x, ok := v.(interface{ JavaScript() string }); ok {
		d.Data[MIMETypeJavaScript] = x.JavaScript()
	}
	if img, ok := v.(image.Image); ok && len(d.Data) == 0 {
		d = Image(img)
	}
	switch x := v.(type) {
	case fmt.Stringer:
		d.Data[MIMETypeText] = x.String()
	case interface{ Text() string }:
		d.Data[MIMETypeText] = x.Text()
	default:
		if _, ok := d.Data[MIMETypeText]; !ok {
			d.Data[MIMETypeText] = fmt.Sprint(v)
		}
	}
	return d
}

func ensureText(d Data, v any) Data {
	if d.Data == nil {
		d.Data = MIMEMap{}
	}
	if _, ok := d.Data[MIMETypeText]; !ok {
		if s, ok := v.(fmt.Stringer); ok {
			d.Data[MIMETypeText] = s.String()
		} else {
			d.Data[MIMETypeText] = fmt.Sprintf("%d rich outputs", len(d.Data))
		}
	}
	return d
}

func isNilPointer(v any) bool {
	if v == nil {
		return true
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Func, reflect.Interface, reflect.Chan:
		return rv.IsNil() && rv.Kind() == reflect.Pointer
	}
	return false
}
