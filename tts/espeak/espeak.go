// Package espeak synthesizes prompts with espeak-ng, the embedded default:
// it runs on any machine with the Debian package, speaks Mandarin (cmn),
// Cantonese (yue) and English, and needs no server.
package espeak

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"os/exec"
	"strconv"

	"github.com/callbrief/callbrief/call"
	"github.com/callbrief/callbrief/tts"
)

// normalWPM is espeak-ng's default pace in words per minute.
const normalWPM = 175

// Voices maps the hotline's languages to espeak-ng voices. Wu (Shanghainese)
// has no espeak voice; its speakers are addressed in Mandarin, which they
// all understand, rather than refused. Undetermined callers hear Mandarin,
// the hotline's first language, until the classifier decides.
var Voices = map[call.Language]string{
	call.LangMandarin:     "cmn",
	call.LangChinese:      "cmn",
	call.LangWu:           "cmn",
	call.LangUndetermined: "cmn",
	call.LangCantonese:    "yue",
	call.LangEnglish:      "en",
}

// Engine runs the espeak-ng binary once per prompt.
type Engine struct {
	bin string
}

// New finds espeak-ng (bin, or on PATH when empty).
func New(bin string) (*Engine, error) {
	if bin == "" {
		bin = "espeak-ng"
	}
	p, err := exec.LookPath(bin)
	if err != nil {
		return nil, fmt.Errorf("%w: espeak-ng not found (apt-get install espeak-ng): %w", tts.ErrEngine, err)
	}
	return &Engine{bin: p}, nil
}

// Name implements tts.Synthesizer.
func (e *Engine) Name() string { return "espeak-ng" }

// Synthesize implements tts.Synthesizer. The text goes on stdin, never the
// command line, so nothing in it can be read as an option.
func (e *Engine) Synthesize(ctx context.Context, text string, lang call.Language, rate tts.Rate) ([]int16, error) {
	if text == "" {
		return nil, tts.ErrEmptyText
	}
	voice, ok := Voices[lang]
	if !ok {
		return nil, fmt.Errorf("%w: %q (espeak voices: cmn, yue, en)", tts.ErrUnsupportedLanguage, lang)
	}
	wpm := int(normalWPM * rate.Of())
	cmd := exec.CommandContext(ctx, e.bin, "-v", voice, "-s", strconv.Itoa(wpm), "--stdout", "--stdin")
	cmd.Stdin = bytes.NewBufferString(text)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%w: espeak-ng -v %s: %w: %s", tts.ErrEngine, voice, err, bytes.TrimSpace(errb.Bytes()))
	}
	return tts.DecodeWAV(fixStreamedWAV(out.Bytes()))
}

// fixStreamedWAV sets the RIFF and data chunk sizes of a WAV written to a
// pipe. espeak-ng cannot seek back to fill them in, so it declares the
// largest size (0x7ffff000), which a strict reader rightly calls
// truncated; the true size is whatever arrived.
func fixStreamedWAV(b []byte) []byte {
	if len(b) < 12 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return b
	}
	binary.LittleEndian.PutUint32(b[4:8], uint32(len(b)-8))
	for off := 12; off+8 <= len(b); {
		size := int(binary.LittleEndian.Uint32(b[off+4 : off+8]))
		if string(b[off:off+4]) == "data" {
			if rest := len(b) - off - 8; size > rest {
				binary.LittleEndian.PutUint32(b[off+4:off+8], uint32(rest-rest%2))
			}
			break
		}
		off += 8 + size + size%2
	}
	return b
}
