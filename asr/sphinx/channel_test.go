package sphinx

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/callbrief/callbrief/asr"
)

// TestDeriveInitialChannel derives initialChannel (see its comment) and
// prints it as a Go literal; it runs only with CALLBRIEF_DERIVE_CMN=1.
func TestDeriveInitialChannel(t *testing.T) {
	if os.Getenv("CALLBRIEF_DERIVE_CMN") != "1" {
		t.Skip("set CALLBRIEF_DERIVE_CMN=1 to derive the initial channel estimate")
	}
	var sum []float64
	files := []string{"goforward.raw", "something.raw", "numbers.raw"}
	for _, f := range files {
		samples := readRaw(t, filepath.Join(testData, f))
		// A fresh recognizer starting from the model's default, so each
		// recording's estimate is its own.
		r := newTestRecognizer(t)
		r.initCMN = nil
		transcribe(t, r, asr.ModeFree, samples, 0)
		d, err := r.get(asr.ModeFree)
		if err != nil {
			t.Fatal(err)
		}
		v := d.cmn()
		r.put(asr.ModeFree, d)
		if sum == nil {
			sum = make([]float64, len(v))
		}
		for i := range v {
			sum[i] += float64(v[i])
		}
		t.Logf("%s: %v", f, v)
	}
	parts := make([]string, len(sum))
	for i := range sum {
		parts[i] = fmt.Sprintf("%.4f", sum[i]/float64(len(files)))
	}
	fmt.Printf("var initialChannel = [%d]float32{%s}\n", len(sum), strings.Join(parts, ", "))
}

// TestSameClipSameTranscript: a recording gives the same transcript
// whatever was decoded before it. The recognizer used to carry a channel
// estimate over from earlier streams, and this clip's transcript changed
// with the calls before it.
func TestSameClipSameTranscript(t *testing.T) {
	if testing.Short() {
		t.Skip("decodes a dozen clips")
	}
	target := loadClip(t, filepath.Join(testData, "librivox", "sense_and_sensibility_01_austen_64kb-0880.wav"))
	var others [][]int16
	cards, _ := filepath.Glob(filepath.Join(testData, "cards", "*.wav"))
	books, _ := filepath.Glob(filepath.Join(testData, "librivox", "*.wav"))
	for _, f := range append(books, cards...) {
		if !strings.HasSuffix(f, "0880.wav") {
			others = append(others, loadClip(t, f))
		}
	}
	for _, f := range []string{"goforward.raw", "something.raw"} {
		others = append(others, readRaw(t, filepath.Join(testData, f)))
	}
	if len(others) < 10 {
		t.Fatalf("%d other clips, want 10", len(others))
	}
	r := newTestRecognizer(t)
	first := transcribe(t, r, asr.ModeFree, target, 0).text()
	for _, c := range others[:10] {
		transcribe(t, r, asr.ModeFree, c, 0)
	}
	after := transcribe(t, r, asr.ModeFree, target, 0).text()
	again := transcribe(t, r, asr.ModeFree, target, 0).text()
	if first == "" || after != first || again != first {
		t.Errorf("the same clip decoded as:\n first:           %q\n after 10 others: %q\n again:           %q", first, after, again)
	}
}
