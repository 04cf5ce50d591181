package sphinx

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/callbrief/callbrief/asr"
)

// TestLibrivoxWER transcribes the five LibriVox clips of
// pocketsphinx-testdata in open-vocabulary mode.
func TestLibrivoxWER(t *testing.T) {
	if testing.Short() {
		t.Skip("decodes 25 s of audio")
	}
	dir := filepath.Join(testData, "librivox")
	files, _ := filepath.Glob(filepath.Join(dir, "*.wav"))
	if len(files) == 0 {
		t.Skipf("no clips in %s: install the Debian package pocketsphinx-testdata", dir)
	}
	refs := readTranscripts(t, filepath.Join(dir, "transcription"))
	r := newTestRecognizer(t)

	// Offsets as if the clips came one after another in a call, so that
	// timings must follow the frames' Offset, not restart at zero.
	base := 42 * time.Second
	var errs, words int
	for _, f := range files {
		id := strings.TrimSuffix(filepath.Base(f), ".wav")
		ref, ok := refs[id]
		if !ok {
			t.Fatalf("no transcript for %s", id)
		}
		samples := loadClip(t, f)
		dur := time.Duration(len(samples)) * time.Second / SampleRate
		d := transcribe(t, r, asr.ModeFree, samples, base)
		if d.final == nil {
			t.Fatalf("%s: no final result", id)
		}
		e, n := wordErrors(ref, d.final.Text)
		errs += e
		words += n
		t.Logf("%s WER %.3f (%d/%d) conf %.2f, %d partials\n  ref: %s\n  hyp: %s",
			id, float64(e)/float64(n), e, n, d.final.Confidence, len(d.partials), ref, d.final.Text)

		checkSegment(t, id, d, base, base+dur)
		base += dur + 3*time.Second
	}
	wer := float64(errs) / float64(words)
	t.Logf("overall WER %.3f (%d errors / %d words)", wer, errs, words)
	if wer >= 0.35 {
		t.Errorf("overall WER %.3f, want < 0.35", wer)
	}
}

// checkSegment checks a final segment's fields and timings against the
// span [start, end] of the audio written, and that partials came first.
func checkSegment(t *testing.T, id string, d decoded, start, end time.Duration) {
	t.Helper()
	seg := d.final.Segment
	if !seg.Final || seg.Engine != Name || seg.Language != "en" {
		t.Errorf("%s: final segment Final=%v Engine=%q Language=%q", id, seg.Final, seg.Engine, seg.Language)
	}
	if len(d.partials) == 0 {
		t.Errorf("%s: no partial results before the final", id)
	}
	if d.partialAfterFinal {
		t.Errorf("%s: partial result after the final", id)
	}
	for _, p := range d.partials {
		if p.Final || p.Text == "" || p.Start != start || p.End <= p.Start || p.End > end {
			t.Errorf("%s: bad partial %+v", id, p.Segment)
		}
	}
	if len(seg.Words) == 0 {
		t.Fatalf("%s: final has no words", id)
	}
	var texts []string
	prevEnd := start
	for i, w := range seg.Words {
		texts = append(texts, w.Text)
		if w.Start < prevEnd || w.End <= w.Start || w.End > end {
			t.Errorf("%s: word %d %q at %v-%v: not monotonic within %v-%v (previous ended %v)",
				id, i, w.Text, w.Start, w.End, start, end, prevEnd)
		}
		if strings.ContainsAny(w.Text, "<>[]()+") {
			t.Errorf("%s: filler or marker %q in words", id, w.Text)
		}
		if w.Confidence < 0 || w.Confidence > 1 {
			t.Errorf("%s: word %q confidence %v", id, w.Text, w.Confidence)
		}
		prevEnd = w.End
	}
	if got := strings.Join(texts, " "); got != seg.Text {
		t.Errorf("%s: words %q do not spell text %q", id, got, seg.Text)
	}
	if seg.Start != seg.Words[0].Start || seg.End != seg.Words[len(seg.Words)-1].End {
		t.Errorf("%s: segment %v-%v, words %v-%v", id, seg.Start, seg.End, seg.Words[0].Start, seg.Words[len(seg.Words)-1].End)
	}
	if seg.Confidence <= 0 || seg.Confidence > 1 {
		t.Errorf("%s: confidence %v, want in (0, 1]", id, seg.Confidence)
	}
}

// TestCardsFree transcribes the cards recordings (real speech, short
// phrases) in open-vocabulary mode.
func TestCardsFree(t *testing.T) {
	dir := filepath.Join(testData, "cards")
	refs := readTranscripts(t, filepath.Join(dir, "cards.transcription"))
	r := newTestRecognizer(t)
	var errs, words int
	for _, id := range []string{"001", "002", "003", "004", "005"} {
		d := transcribe(t, r, asr.ModeFree, loadClip(t, filepath.Join(dir, id+".wav")), 0)
		e, n := wordErrors(refs[id], d.text())
		errs += e
		words += n
		t.Logf("cards %s: ref %q hyp %q", id, refs[id], d.text())
	}
	wer := float64(errs) / float64(words)
	t.Logf("cards free-mode WER %.3f (%d/%d)", wer, errs, words)
	if wer >= 0.5 {
		t.Errorf("cards WER %.3f, want < 0.5", wer)
	}
}

// TestCardsGrammar decodes the cards recordings with the cards.gram JSGF
// grammar through the grammar decoder path (empty dictionary plus the
// grammar's words, ps_set_jsgf_string), which ModeDigits and ModeYesNo
// also use. The recognizer's free mode is swapped for the grammar so the
// words come out unnormalised.
func TestCardsGrammar(t *testing.T) {
	dir := filepath.Join(testData, "cards")
	gram, err := readFile(filepath.Join(dir, "cards.gram"))
	if err != nil {
		t.Skipf("cards grammar missing (install pocketsphinx-testdata): %v", err)
	}
	refs := readTranscripts(t, filepath.Join(dir, "cards.transcription"))
	r := newTestRecognizer(t)
	vocab := strings.Fields("ace two three four five six seven eight nine ten jack queen king lady of clubs hearts diamonds spades")
	words, err := lookupWords(filepath.Join(DefaultModelDir, "cmudict-en-us.dict"), vocab)
	if err != nil {
		t.Fatal(err)
	}
	spec := r.specs[asr.ModeDigits]
	spec.args = []string{"-remove_silence", "no"}
	spec.words, spec.jsgf = words, gram
	r.specs[asr.ModeFree] = spec

	correct := 0
	for _, id := range []string{"001", "002", "003", "004", "005"} {
		samples := loadClip(t, filepath.Join(dir, id+".wav"))
		d := transcribe(t, r, asr.ModeFree, samples, time.Second)
		t.Logf("cards %s: ref %q hyp %q", id, refs[id], d.text())
		if d.text() == refs[id] {
			correct++
		}
		if d.final != nil {
			for _, w := range d.final.Words {
				if w.Confidence != 0 {
					t.Errorf("grammar word %q has confidence %v; the grammar search gives none", w.Text, w.Confidence)
				}
			}
		}
	}
	t.Logf("cards grammar: %d/5 exactly right", correct)
	if correct < 4 {
		t.Errorf("cards grammar: %d/5 right, want at least 4", correct)
	}
}

// TestDigitsRealSpeech decodes the two real digit recordings in the test
// data: a TIDIGITS utterance and the cards clip "five five".
func TestDigitsRealSpeech(t *testing.T) {
	r := newTestRecognizer(t)
	raw := filepath.Join(testData, "tidigits", "dhd.2934z.raw")
	loadClip(t, filepath.Join(testData, "cards", "004.wav")) // skips without the test data
	for _, c := range []struct {
		name    string
		samples []int16
		want    string
	}{
		{"tidigits 2934z", readRaw(t, raw), "29340"},
		{"cards 004", loadClip(t, filepath.Join(testData, "cards", "004.wav")), "55"},
	} {
		d := transcribe(t, r, asr.ModeDigits, c.samples, 0)
		if d.text() != c.want {
			t.Errorf("%s: got %q, want %q", c.name, d.text(), c.want)
		}
	}
}

var digitStrings = []string{
	"four eight two one", "zero one two three", "oh seven five nine six", "nine nine one",
	"three one four one five nine", "eight six seven five three oh nine", "two", "five oh",
	"six zero zero four", "one two three four five six seven eight nine zero",
}

var testVoices = []string{"en-us", "en", "en-us+f2", "en+m3"}

// TestDigitsSynthetic recognises digit strings spoken by espeak-ng.
// Synthetic voices are harder for this acoustic model than people (it
// was trained on human speech), so the bar is digit error rate.
func TestDigitsSynthetic(t *testing.T) {
	if testing.Short() {
		t.Skip("synthesises 40 utterances")
	}
	syn := newSynthesizer(t)
	r := newTestRecognizer(t)
	var exact, n, digitErrs, digits int
	for _, v := range testVoices {
		for _, text := range digitStrings {
			want := normalizeHyp(asr.ModeDigits, text)
			d := transcribe(t, r, asr.ModeDigits, syn.say(t, v, text), 0)
			got := d.text()
			n++
			if got == want {
				exact++
			} else {
				t.Logf("%s %q: got %q want %q", v, text, got, want)
			}
			digitErrs += editDistance(strings.Split(want, ""), strings.Split(got, ""))
			digits += len(want)
			if d.final != nil {
				if strings.Trim(got, "0123456789") != "" {
					t.Errorf("digits text %q has non-digits", got)
				}
				if len(d.final.Words) != len(got) {
					t.Errorf("%q: %d words for %d digits", got, len(d.final.Words), len(got))
				}
			}
		}
	}
	der := float64(digitErrs) / float64(digits)
	t.Logf("digits: %d/%d strings exactly right, digit error rate %.3f (%d/%d)", exact, n, der, digitErrs, digits)
	if der > 0.2 {
		t.Errorf("digit error rate %.3f, want <= 0.2", der)
	}
}

// TestYesNoSynthetic recognises spoken answers and rejects other speech.
func TestYesNoSynthetic(t *testing.T) {
	if testing.Short() {
		t.Skip("synthesises 56 utterances")
	}
	syn := newSynthesizer(t)
	r := newTestRecognizer(t)
	// Every stream starts from the same channel estimate, so the order of
	// the answers does not change the results.
	answers := [][2]string{
		{"yes", "yes"}, {"yeah", "yes"}, {"yep", "yes"}, {"correct", "yes"}, {"right", "yes"},
		{"yes please", "yes"}, {"that's right", "yes"}, {"no", "no"}, {"nope", "no"}, {"no thanks", "no"},
	}
	others := []string{"hello there how are you", "I am not sure", "maybe later", "what did you say"}
	var ok, n, accepted, m int
	for _, v := range testVoices {
		for _, a := range answers {
			text, want := a[0], a[1]
			got := transcribe(t, r, asr.ModeYesNo, syn.say(t, v, text), 0).text()
			n++
			if got == want {
				ok++
			} else {
				t.Logf("%s %q: got %q want %q", v, text, got, want)
			}
		}
		for _, text := range others {
			got := transcribe(t, r, asr.ModeYesNo, syn.say(t, v, text), 0).text()
			m++
			if got != "" {
				accepted++
				t.Logf("%s %q: falsely accepted as %q", v, text, got)
			}
		}
	}
	t.Logf("yes/no: %d/%d answers right, %d/%d other utterances accepted", ok, n, accepted, m)
	if float64(ok) < 0.8*float64(n) {
		t.Errorf("yes/no: %d/%d answers right, want >= 80%%", ok, n)
	}
	if float64(accepted) > 0.25*float64(m) {
		t.Errorf("yes/no: %d/%d non-answers accepted, want <= 25%%", accepted, m)
	}
}

// TestYesNoRejectsRealSpeech feeds real recordings that are not yes/no
// answers, and silence, to the yes/no grammar.
func TestYesNoRejectsRealSpeech(t *testing.T) {
	r := newTestRecognizer(t)
	var clips [][]int16
	files, _ := filepath.Glob(filepath.Join(testData, "cards", "*.wav"))
	more, _ := filepath.Glob(filepath.Join(testData, "librivox", "*.wav"))
	for _, f := range append(files, more...) {
		clips = append(clips, loadClip(t, f))
	}
	for _, f := range []string{"goforward.raw", "something.raw", "numbers.raw"} {
		clips = append(clips, readRaw(t, filepath.Join(testData, f)))
	}
	clips = append(clips, make([]int16, SampleRate)) // a second of silence
	accepted := 0
	for i, c := range clips {
		if got := transcribe(t, r, asr.ModeYesNo, c, 0).text(); got != "" {
			accepted++
			t.Logf("clip %d falsely accepted as %q", i, got)
		}
	}
	t.Logf("yes/no: %d/%d real non-answers accepted", accepted, len(clips))
	if accepted > 2 {
		t.Errorf("%d/%d non-answers accepted, want <= 2", accepted, len(clips))
	}
}
