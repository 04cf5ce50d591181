package siptest

import (
	"testing"
	"time"
)

// TestToneShare: the detector the bridge tests hear tones by tells a
// tone from another and from silence.
func TestToneShare(t *testing.T) {
	a := Tone(600, 16000, 8000, 100*time.Millisecond)
	if s := ToneShare(a, 600, 16000); s < 0.9 {
		t.Errorf("600 Hz in a 600 Hz tone: %.2f", s)
	}
	if s := ToneShare(a, 1000, 16000); s > 0.1 {
		t.Errorf("1000 Hz in a 600 Hz tone: %.2f", s)
	}
	if s := ToneShare(make([]int16, 1600), 600, 16000); s != 0 {
		t.Errorf("silence: %.2f", s)
	}
}
