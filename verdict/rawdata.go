package verdict

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"

	"github.com/ipclab/ipclab/display"
)

// RawDataMIME is the MIME type under which RawData carries its value.
const RawDataMIME = "application/vnd.ipclab.data+json"

// RawData attaches v (ipc.Results, a CounterResult, any value encoding/json
// can write) to the output as a download link to name.json, so that a
// reader of the exported HTML can re-plot the numbers. The JSON also travels
// under RawDataMIME and in the metadata ("ipclab": {"data": name}).
func RawData(name string, v any) display.Data {
	b, err := json.MarshalIndent(v, "", " ")
	if err != nil {
		return display.Text(fmt.Sprintf("raw data %s: cannot write JSON: %v", name, err))
	}
	link := fmt.Sprintf(`<a class="ipclab-data" download="%s.json" href="data:application/json;base64,%s">⬇ raw data: %s.json</a> <small>(%d bytes; the numbers this chart and verdict rest on)</small>`,
		html.EscapeString(name), base64.StdEncoding.EncodeToString(b), html.EscapeString(name), len(b))
	var raw any
	json.Unmarshal(b, &raw)
	return display.MIME(display.MIMEMap{
		display.MIMETypeHTML: link,
		display.MIMETypeText: fmt.Sprintf("raw data: %s.json (%d bytes)", name, len(b)),
		RawDataMIME:          raw,
	}, display.MIMEMap{"ipclab": display.MIMEMap{"data": name}})
}
