package call

import (
	"sort"
	"testing"
	"time"
)

func TestNewIDUniqueAndSorted(t *testing.T) {
	t0 := time.UnixMilli(1_780_000_000_000)
	seen := map[string]bool{}
	var ids []string
	for i := 0; i < 10000; i++ {
		// Many ids in the same millisecond, as two nodes taking calls at
		// once would make: the random part keeps them apart.
		id := NewID(t0.Add(time.Duration(i/100) * time.Millisecond))
		if !ValidID(id) {
			t.Fatalf("NewID gave %q, which ValidID refuses", id)
		}
		if seen[id] {
			t.Fatalf("NewID repeated %q", id)
		}
		seen[id] = true
		ids = append(ids, id)
	}
	// Ids of later milliseconds sort after earlier ones.
	for i := 100; i < len(ids); i += 100 {
		if ids[i] <= ids[i-100] {
			t.Fatalf("id %q of a later millisecond sorts before %q", ids[i], ids[i-100])
		}
	}
	if !sort.StringsAreSorted([]string{NewID(t0), NewID(t0.Add(time.Hour)), NewID(t0.Add(48 * time.Hour))}) {
		t.Fatal("ids of later times do not sort after earlier ones")
	}
}

func TestNewIDTimestamp(t *testing.T) {
	// The ULID of 2016-07-30 22:36:16.385 UTC begins 01ARYZ6S41 (the spec's
	// example), so the layout is the standard one other tools decode.
	got := NewID(time.UnixMilli(1469918176385))
	if got[:10] != "01ARYZ6S41" {
		t.Fatalf("timestamp part %q, want 01ARYZ6S41", got[:10])
	}
}

func TestValidID(t *testing.T) {
	for _, s := range []string{"", "call-1", "01ARYZ6S41TSV4RRFFQ69G5FA", "01ARYZ6S41TSV4RRFFQ69G5FAVX", "81ARYZ6S41TSV4RRFFQ69G5FAV", "01ARYZ6S41TSV4RRFFQ69G5FAu", "01ARYZ6S41TSV4RRFFQ69G5FAI"} {
		if ValidID(s) {
			t.Errorf("ValidID(%q) = true", s)
		}
	}
	if !ValidID("01ARYZ6S41TSV4RRFFQ69G5FAV") {
		t.Error("ValidID refuses a ULID")
	}
}
