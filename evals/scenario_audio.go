package evals

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"os/exec"
	"strings"

	"github.com/callbrief/callbrief/call"
	"github.com/callbrief/callbrief/media"
)

// Voice is how a scenario's caller sounds in audio mode. Zero fields are
// filled per scenario from VoiceFor, so a suite covers several voices,
// speeds and noise levels without every file saying so.
type Voice struct {
	Variant string  `yaml:"variant"` // espeak-ng variant: m1..m7, f1..f5
	Speed   int     `yaml:"speed"`   // words per minute
	Pitch   int     `yaml:"pitch"`   // 0..99
	SNR     float64 `yaml:"snr_db"`  // noise level; 0: the default for the scenario
}

// voiceCycle is the variety audio mode goes through, by scenario index.
var voiceCycle = []Voice{
	{Variant: "m1", Speed: 160, Pitch: 45, SNR: 30},
	{Variant: "f2", Speed: 140, Pitch: 60, SNR: 20},
	{Variant: "m3", Speed: 180, Pitch: 40, SNR: 25},
	{Variant: "f4", Speed: 130, Pitch: 70, SNR: 15},
}

// VoiceFor fills v's zero fields from the cycle entry of index i.
func VoiceFor(v Voice, i int) Voice {
	d := voiceCycle[i%len(voiceCycle)]
	if v.Variant == "" {
		v.Variant = d.Variant
	}
	if v.Speed == 0 {
		v.Speed = d.Speed
	}
	if v.Pitch == 0 {
		v.Pitch = d.Pitch
	}
	if v.SNR == 0 {
		v.SNR = d.SNR
	}
	return v
}

// Synthesizer speaks text as 16 kHz mono samples.
type Synthesizer interface {
	Synthesize(ctx context.Context, text string, lang call.Language, v Voice) ([]int16, error)
}

// Espeak synthesizes with the espeak-ng program (voices cmn, yue, en).
type Espeak struct {
	// Program is the espeak-ng executable; default "espeak-ng" on PATH.
	Program string
}

// espeakVoice maps a language to an espeak-ng voice.
func espeakVoice(lang call.Language) (string, error) {
	switch lang {
	case call.LangMandarin, call.LangChinese:
		return "cmn", nil
	case call.LangCantonese:
		return "yue", nil
	case call.LangEnglish:
		return "en-us", nil
	}
	return "", fmt.Errorf("%w: no espeak-ng voice for language %q", ErrScenario, lang)
}

// Synthesize implements Synthesizer.
func (e Espeak) Synthesize(ctx context.Context, text string, lang call.Language, v Voice) ([]int16, error) {
	voice, err := espeakVoice(lang)
	if err != nil {
		return nil, err
	}
	if v.Variant != "" {
		voice += "+" + v.Variant
	}
	prog := e.Program
	if prog == "" {
		prog = "espeak-ng"
	}
	args := []string{"-v", voice, "--stdout"}
	if v.Speed > 0 {
		args = append(args, "-s", fmt.Sprint(v.Speed))
	}
	if v.Pitch > 0 {
		args = append(args, "-p", fmt.Sprint(v.Pitch))
	}
	// The text goes on stdin so that nothing in it is read as an option.
	cmd := exec.CommandContext(ctx, prog, args...)
	cmd.Stdin = strings.NewReader(text)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("evals: espeak-ng %s: %w: %s", voice, err, strings.TrimSpace(errb.String()))
	}
	a, err := media.DecodeWAV(fixStreamedWAV(out.Bytes()))
	if err != nil {
		return nil, fmt.Errorf("evals: espeak-ng output: %w", err)
	}
	return a.PCM16(16000)
}

// fixStreamedWAV sets the RIFF and data sizes of a WAV written to a pipe:
// espeak-ng cannot seek back to fill them in, so it leaves a placeholder
// of nearly 2 GiB that a strict reader rightly refuses.
func fixStreamedWAV(b []byte) []byte {
	if len(b) < 12 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return b
	}
	binary.LittleEndian.PutUint32(b[4:8], uint32(len(b)-8))
	for off := 12; off+8 <= len(b); {
		id, size := string(b[off:off+4]), int(binary.LittleEndian.Uint32(b[off+4:off+8]))
		if id == "data" {
			binary.LittleEndian.PutUint32(b[off+4:off+8], uint32(len(b)-off-8))
			return b
		}
		off += 8 + size + size%2
	}
	return b
}

// Telephone passes 16 kHz speech through what a phone call does to it:
// down to 8 kHz (the telephone band), a high-pass at about 300 Hz, noise
// at snrDB, G.711 mu-law coding, and back up to 16 kHz for the listener.
// seed makes the noise reproducible.
func Telephone(pcm16k []int16, snrDB float64, seed uint64) ([]int16, error) {
	nb, err := media.ResampleInt16(pcm16k, 16000, 8000)
	if err != nil {
		return nil, fmt.Errorf("evals: telephone band: %w", err)
	}
	x := make([]float64, len(nb))
	// One-pole high-pass: handsets and the network cut the low band.
	const a = 0.79 // exp(-2*pi*300/8000)
	var prevIn, prevOut float64
	var power float64
	for i, s := range nb {
		in := float64(s)
		out := a * (prevOut + in - prevIn)
		prevIn, prevOut = in, out
		x[i] = out
		power += out * out
	}
	if len(x) > 0 && snrDB > 0 {
		power /= float64(len(x))
		sigma := math.Sqrt(power / math.Pow(10, snrDB/10))
		r := rand.New(rand.NewPCG(seed, 0x7e1e))
		for i := range x {
			x[i] += r.NormFloat64() * sigma
		}
	}
	pcm := make([]int16, len(x))
	for i, v := range x {
		pcm[i] = int16(max(-32768, min(32767, math.Round(v))))
	}
	coded := make([]byte, len(pcm))
	media.EncodeMuLaw(coded, pcm)
	media.DecodeMuLaw(pcm, coded)
	wb, err := media.ResampleInt16(pcm, 8000, 16000)
	if err != nil {
		return nil, fmt.Errorf("evals: telephone band: %w", err)
	}
	return wb, nil
}
