package handoff_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/callbrief/callbrief/handoff"
)

// TestHandoffOrTransfer: a call whose group the contact centre takes is
// stored but not queued; once transferred its brief says where; a failed
// transfer queues it for the desk with the reason on the brief; a group
// that stays with the desk is queued at once.
func TestHandoffOrTransfer(t *testing.T) {
	eng := newEngine(t, nil)
	ctx := context.Background()
	var asked string
	acd := func(g string) bool { asked = g; return true }
	b, err := eng.HandoffOrTransfer(ctx, bootRequest(t, "t1"), acd)
	if err != nil || b.Delivery != handoff.DeliveryTransfer || asked != b.Route.Group || asked == "" {
		t.Fatalf("brief %+v %v (asked for %q)", b, err, asked)
	}
	if _, err := eng.QueuePosition(ctx, "t1"); !errors.Is(err, handoff.ErrNotFound) {
		t.Fatalf("a call being transferred is queued: %v", err)
	}
	if err := eng.Transferred(ctx, "t1", "sip:billing@acd.example"); err != nil {
		t.Fatal(err)
	}
	// The group's agents may read a transferred call's brief (it is in no
	// queue); an agent of another group may not.
	var readers, refused int
	for _, id := range eng.Roster().IDs() {
		if _, err := eng.BriefFor(ctx, id, "t1"); err == nil {
			readers++
		} else if errors.Is(err, handoff.ErrNotFound) {
			refused++
		}
	}
	if readers == 0 {
		t.Fatalf("no agent may read the transferred call's brief (%d refused)", refused)
	}
	if b, _ := eng.Brief(ctx, "t1"); b.Delivery != handoff.DeliveryTransferred || !strings.Contains(b.Reason, "transferred to sip:billing@acd.example") {
		t.Fatalf("transferred brief %q %q", b.Delivery, b.Reason)
	}

	if _, err := eng.HandoffOrTransfer(ctx, bootRequest(t, "t2"), acd); err != nil {
		t.Fatal(err)
	}
	if err := eng.TransferFailed(ctx, "t2", "603 Declined"); err != nil {
		t.Fatal(err)
	}
	b, _ = eng.Brief(ctx, "t2")
	if b.Delivery != "" || !strings.Contains(b.Reason, "transfer to the contact centre failed: 603 Declined; handed to the desk") {
		t.Fatalf("failed transfer's brief %q %q", b.Delivery, b.Reason)
	}
	if pos, err := eng.QueuePosition(ctx, "t2"); err != nil || pos != 1 {
		t.Fatalf("failed transfer at %d (%v), want queued first", pos, err)
	}

	if b, err := eng.HandoffOrTransfer(ctx, bootRequest(t, "t3"), func(string) bool { return false }); err != nil || b.Delivery != "" {
		t.Fatalf("desk group: %+v %v", b.Delivery, err)
	}
	if pos, err := eng.QueuePosition(ctx, "t3"); err != nil || pos < 1 {
		t.Fatalf("desk group's call at %d (%v)", pos, err)
	}
	if err := eng.Note(ctx, "t3", "the contact centre takes SIP calls only"); err != nil {
		t.Fatal(err)
	}
	if b, _ := eng.Brief(ctx, "t3"); !strings.HasSuffix(b.Reason, "(the contact centre takes SIP calls only)") {
		t.Fatalf("note: %q", b.Reason)
	}
}
