package handoff

import (
	"encoding/json"
	"sort"
)

// DeskShown lists what a desk state shows (and holds back), one line per
// call: id, list, item; then the count of greyed calls and readiness.
func DeskShown(ds *DeskState) []string {
	var out []string
	for id, p := range ds.shown {
		out = append(out, id+" "+p.list+" "+string(p.js))
	}
	for id, it := range ds.hidden {
		js, _ := json.Marshal(it)
		out = append(out, id+" others "+string(js))
	}
	sort.Strings(out)
	b, _ := json.Marshal([]any{ds.othersTotal, ds.notReady})
	return append(out, string(b))
}
