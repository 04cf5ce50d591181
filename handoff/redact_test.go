package handoff_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/callbrief/callbrief/call"
	"github.com/callbrief/callbrief/handoff"
)

// TestKeptBriefRedacted: once the case is closed, the brief kept in the
// store, the outcome and the draft article hold no phone, IMEI or card
// number the caller said or the agent typed; the live brief did.
func TestKeptBriefRedacted(t *testing.T) {
	ctx := context.Background()
	e := newEngine(t, fakeKB{})
	if err := e.Online(ctx, "sam.taylor"); err != nil {
		t.Fatal(err)
	}
	req := bootRequest(t, "call-r")
	said := "my Phone 14 Pro will not turn on, call me on 幺三八 幺二三四 五六七八, IMEI 867693067951602"
	req.Transcript = call.Transcript{CallID: "call-r", Segments: []call.Segment{{Text: said, End: 3 * time.Second, Final: true}}}
	live, err := e.Handoff(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(live.Transcript.Text(), "867693067951602") {
		t.Fatalf("the live brief should carry what the caller said: %q", live.Transcript.Text())
	}
	if err := e.Accept(ctx, "sam.taylor", "call-r"); err != nil {
		t.Fatal(err)
	}
	d, err := e.RecordOutcome(ctx, "sam.taylor", "call-r", handoff.Outcome{Resolved: true,
		Resolution: "refund to card 6228480012345671", Notes: "caller's other number 15011112222", DraftArticle: true})
	if err != nil {
		t.Fatal(err)
	}
	kept, err := e.Brief(ctx, "call-r")
	if err != nil {
		t.Fatal(err)
	}
	js, _ := json.Marshal(kept)
	dj, _ := json.Marshal(d)
	for _, s := range []string{"867693067951602", "幺三八 幺二三四", "6228480012345671", "15011112222"} {
		if strings.Contains(string(js), s) || strings.Contains(string(dj), s) {
			t.Errorf("kept brief or draft holds %q", s)
		}
	}
	if !strings.Contains(kept.Transcript.Text(), "[mobile]") || !strings.Contains(kept.Transcript.Text(), "[imei]") {
		t.Errorf("kept transcript: %q", kept.Transcript.Text())
	}
	for _, dev := range kept.Caller.Devices {
		if len(dev.IMEI) > 4 && !strings.HasPrefix(dev.IMEI, "****") {
			t.Errorf("kept device IMEI %q not masked", dev.IMEI)
		}
	}
}
