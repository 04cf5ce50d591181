package media

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Builders for hand-made WAV files. They write exactly what they are told,
// including wrong sizes, so tests can describe broken files precisely.

// wavFile assembles a RIFF file; riffSize 0 means "compute it".
func wavFile(form string, riffSize uint32, chunks ...[]byte) []byte {
	var body []byte
	for _, c := range chunks {
		body = append(body, c...)
	}
	if riffSize == 0 {
		riffSize = uint32(4 + len(body))
	}
	out := append([]byte(form), le32(riffSize)...)
	out = append(out, "WAVE"...)
	return append(out, body...)
}

// chunk is a well-formed chunk: size from the body, padding byte if odd.
func chunk(id string, body []byte) []byte {
	out := chunkSized(id, uint32(len(body)), body)
	if len(body)%2 == 1 {
		out = append(out, 0)
	}
	return out
}

// chunkSized is a chunk whose header declares size whatever the body holds.
func chunkSized(id string, size uint32, body []byte) []byte {
	out := append([]byte(id), le32(size)...)
	return append(out, body...)
}

// fmtBody is a 16-byte fmt chunk body with a consistent block align.
func fmtBody(tag Encoding, channels, rate, bits int) []byte {
	align := channels * ((bits + 7) / 8)
	return fmtBodyAlign(tag, channels, rate, bits, align)
}

func fmtBodyAlign(tag Encoding, channels, rate, bits, align int) []byte {
	b := le16(uint16(tag))
	b = append(b, le16(uint16(channels))...)
	b = append(b, le32(uint32(rate))...)
	b = append(b, le32(uint32(rate*align))...)
	b = append(b, le16(uint16(align))...)
	return append(b, le16(uint16(bits))...)
}

// fmtExtensible is a 40-byte WAVE_FORMAT_EXTENSIBLE fmt body whose
// sub-format GUID is KSDATAFORMAT_SUBTYPE for sub.
func fmtExtensible(sub Encoding, channels, rate, container, valid int) []byte {
	guid := append(le16(uint16(sub)), extensibleGUIDTail...)
	return fmtExtensibleGUID(guid, channels, rate, container, valid)
}

func fmtExtensibleGUID(guid []byte, channels, rate, container, valid int) []byte {
	b := fmtBody(formatExtensible, channels, rate, container)
	b = append(b, le16(22)...)            // cbSize
	b = append(b, le16(uint16(valid))...) // wValidBitsPerSample
	b = append(b, le32(3)...)             // dwChannelMask: FL|FR
	return append(b, guid...)
}

func le16(v uint16) []byte { return binary.LittleEndian.AppendUint16(nil, v) }
func le32(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }
func le64(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }

// pcm16 encodes samples as 16-bit little-endian PCM.
func pcm16(samples ...int16) []byte {
	var b []byte
	for _, s := range samples {
		b = binary.LittleEndian.AppendUint16(b, uint16(s))
	}
	return b
}

// ramp16 is n distinct 16-bit samples.
func ramp16(n int) []int16 {
	out := make([]int16, n)
	for i := range out {
		out[i] = int16(i*37 - 16000)
	}
	return out
}

// checkAudio fails t unless a is internally consistent: the invariants
// every successful ReadWAV result keeps.
func checkAudio(t testing.TB, a *Audio) {
	t.Helper()
	if a == nil {
		t.Fatal("nil Audio")
	}
	if err := a.Format.Validate(); err != nil {
		t.Fatalf("Format %+v: %v", a.Format, err)
	}
	if len(a.Data) == 0 || len(a.Data)%a.Format.Channels != 0 {
		t.Fatalf("%d samples for %d channels", len(a.Data), a.Format.Channels)
	}
	for i, x := range a.Data {
		if !(x >= -1 && x <= 1) {
			t.Fatalf("sample %d is %v, outside [-1, 1]", i, x)
		}
	}
	if got, want := len(a.Mono()), a.Frames(); got != want {
		t.Fatalf("Mono has %d samples, want %d frames", got, want)
	}
	if a.Duration() <= 0 {
		t.Fatalf("Duration %v for %d frames", a.Duration(), a.Frames())
	}
}

func TestWAVRoundTrip(t *testing.T) {
	type variant struct {
		enc  Encoding
		bits int
		tol  func(x float32) float64 // allowed |error| for a sample x
	}
	half := func(bits int) func(float32) float64 {
		return func(float32) float64 { return 0.5/float64(int64(1)<<(bits-1)) + 1e-7 }
	}
	g711 := func(x float32) float64 { return (math.Abs(float64(x))*32768+132)/32/32768 + 20.0/32768 }
	variants := []variant{
		{PCM, 8, half(8)},
		{PCM, 16, half(16)},
		{PCM, 24, half(24)},
		{PCM, 32, half(24)}, // float32 holds 24 bits of mantissa
		{Float, 32, func(float32) float64 { return 0 }},
		{Float, 64, func(float32) float64 { return 0 }},
		{MuLaw, 8, g711},
		{ALaw, 8, g711},
	}
	for _, v := range variants {
		for _, channels := range []int{1, 2} {
			for _, rate := range []int{8000, 16000, 44100, 192000} {
				name := fmt.Sprintf("%v-%d/%dch/%dHz", v.enc, v.bits, channels, rate)
				t.Run(strings.ReplaceAll(name, " ", "_"), func(t *testing.T) {
					frames := rate / 50 // 20 ms
					in := &Audio{Format: Format{Encoding: v.enc, SampleRate: rate, Channels: channels}}
					left := sine(frames, rate, 440, 0.8)
					right := sine(frames, rate, 660, 0.5)
					for i := range frames {
						in.Data = append(in.Data, left[i])
						if channels == 2 {
							in.Data = append(in.Data, right[i])
						}
					}
					// Full scale and beyond: clipped on the way out.
					in.Data[0], in.Data[len(in.Data)-1] = 1.5, -1

					var buf bytes.Buffer
					if err := WriteWAV(&buf, in, v.bits); err != nil {
						t.Fatal(err)
					}
					out, err := ReadWAV(&buf)
					if err != nil {
						t.Fatal(err)
					}
					checkAudio(t, out)
					want := Format{Encoding: v.enc, SampleRate: rate, Channels: channels, BitsPerSample: v.bits}
					if out.Format != want {
						t.Fatalf("format %+v, want %+v", out.Format, want)
					}
					if len(out.Data) != len(in.Data) {
						t.Fatalf("%d samples, want %d", len(out.Data), len(in.Data))
					}
					top := float32(1) // the largest value the encoding stores
					if v.enc == PCM {
						top = 1 - 1/float32(int64(1)<<(v.bits-1))
					}
					for i, x := range in.Data {
						x = max(-1, min(top, x))
						if d := math.Abs(float64(out.Data[i] - x)); d > v.tol(x) {
							t.Fatalf("sample %d: %v, want %v (error %g > %g)", i, out.Data[i], x, d, v.tol(x))
						}
					}
					if got, want := out.Duration(), 20*time.Millisecond; got != want {
						t.Errorf("Duration %v, want %v", got, want)
					}
				})
			}
		}
	}
}

// The canonical 44-byte header, byte for byte.
func TestWriteWAVCanonicalHeader(t *testing.T) {
	var buf bytes.Buffer
	a := &Audio{Format: Format{SampleRate: 16000, Channels: 1}, Data: []float32{0, 0.5, -0.5}}
	if err := WriteWAV(&buf, a, 16); err != nil {
		t.Fatal(err)
	}
	want := wavFile("RIFF", 0,
		chunk("fmt ", fmtBody(PCM, 1, 16000, 16)),
		chunk("data", pcm16(0, 16384, -16384)),
	)
	if !bytes.Equal(buf.Bytes(), want) {
		t.Fatalf("got\n% x\nwant\n% x", buf.Bytes(), want)
	}

	// Non-PCM: 18-byte fmt with cbSize 0, and a fact chunk; odd data
	// length gets a padding byte that the RIFF size counts.
	buf.Reset()
	a.Format.Encoding = MuLaw
	if err := WriteWAV(&buf, a, 0); err != nil {
		t.Fatal(err)
	}
	want = wavFile("RIFF", 0,
		chunk("fmt ", append(fmtBody(MuLaw, 1, 16000, 8), 0, 0)),
		chunk("fact", le32(3)),
		chunk("data", []byte{MuLawEncode(0), MuLawEncode(16384), MuLawEncode(-16384)}),
	)
	if !bytes.Equal(buf.Bytes(), want) {
		t.Fatalf("got\n% x\nwant\n% x", buf.Bytes(), want)
	}
}

func TestWriteWAVErrors(t *testing.T) {
	ok := Format{Encoding: PCM, SampleRate: 16000, Channels: 1}
	for _, tc := range []struct {
		name string
		a    *Audio
		bits int
		want error
	}{
		{"nil", nil, 16, ErrInvalidAudio},
		{"12 bits", &Audio{Format: ok, Data: []float32{0}}, 12, ErrUnsupportedBits},
		{"float 16", &Audio{Format: Format{Encoding: Float, SampleRate: 16000, Channels: 1}, Data: []float32{0}}, 16, ErrUnsupportedBits},
		{"mu-law 16", &Audio{Format: Format{Encoding: MuLaw, SampleRate: 16000, Channels: 1}, Data: []float32{0}}, 16, ErrUnsupportedBits},
		{"MP3", &Audio{Format: Format{Encoding: 0x55, SampleRate: 16000, Channels: 1}, Data: []float32{0}}, 16, ErrUnsupportedEncoding},
		{"3 channels", &Audio{Format: Format{SampleRate: 16000, Channels: 3}, Data: []float32{0, 0, 0}}, 16, ErrUnsupportedChannels},
		{"rate", &Audio{Format: Format{SampleRate: 7999, Channels: 1}, Data: []float32{0}}, 16, ErrUnsupportedRate},
		{"partial frame", &Audio{Format: Format{SampleRate: 16000, Channels: 2}, Data: []float32{0, 0, 0}}, 16, ErrInvalidAudio},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := WriteWAV(io.Discard, tc.a, tc.bits)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
		})
	}
}

type failWriter struct{ after int }

func (w *failWriter) Write(p []byte) (int, error) {
	if w.after < len(p) {
		return 0, errDisk
	}
	w.after -= len(p)
	return len(p), nil
}

var errDisk = errors.New("disk full")

func TestWriteWAVPropagatesWriteError(t *testing.T) {
	a := &Audio{Format: Format{SampleRate: 8000, Channels: 1}, Data: make([]float32, 100)}
	for _, after := range []int{0, 44} {
		if err := WriteWAV(&failWriter{after: after}, a, 16); !errors.Is(err, errDisk) {
			t.Errorf("failing after %d bytes: err %v, want it to wrap %v", after, err, errDisk)
		}
	}
}

// wavCase is a hand-built input, what ReadWAV must say about it, and
// optionally more checks.
type wavCase struct {
	name  string
	in    []byte
	want  error // nil for success
	msg   []string
	check func(t *testing.T, a *Audio, err error)
}

// handBuiltCases are also the fuzz seed corpus.
func handBuiltCases() []wavCase {
	fmt16 := chunk("fmt ", fmtBody(PCM, 1, 16000, 16))
	samples := ramp16(100)
	data := chunk("data", pcm16(samples...))
	wantSamples := func(want []int16) func(*testing.T, *Audio, error) {
		return func(t *testing.T, a *Audio, _ error) {
			t.Helper()
			got := Float32ToInt16(nil, a.Data)
			if len(got) != len(want) {
				t.Fatalf("%d samples, want %d", len(got), len(want))
			}
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("sample %d = %d, want %d", i, got[i], want[i])
				}
			}
		}
	}
	wantFormat := func(f Format, next func(*testing.T, *Audio, error)) func(*testing.T, *Audio, error) {
		return func(t *testing.T, a *Audio, err error) {
			t.Helper()
			if a.Format != f {
				t.Fatalf("format %+v, want %+v", a.Format, f)
			}
			if next != nil {
				next(t, a, err)
			}
		}
	}
	stereo := []int16{100, -100, 200, -200, 32767, -32768}
	ambisonicGUID := []byte{0x01, 0x00, 0x00, 0x00, 0x21, 0x07, 0xD3, 0x11, 0x86, 0x44, 0xC8, 0xC1, 0xCA, 0x00, 0x00, 0x00}

	// 24 valid bits in 32-bit containers, left-justified.
	var in24 []byte
	for _, s := range []int32{1 << 30, -1 << 30, 0x7FFFFF00} {
		in24 = append(in24, le32(uint32(s))...)
	}
	// Float samples including values a reader must sanitise.
	var floats []byte
	for _, x := range []float32{0.25, float32(math.NaN()), float32(math.Inf(1)), -2, -0.5} {
		floats = append(floats, le32(math.Float32bits(x))...)
	}
	// RF64: ds64 gives the real data size; a chunk follows the data.
	ds64 := append(append(le64(0), le64(8)...), le64(4)...)
	ds64 = append(ds64, le32(0)...)

	return []wavCase{
		{name: "canonical PCM16 mono", in: wavFile("RIFF", 0, fmt16, data),
			check: wantFormat(Format{PCM, 16000, 1, 16}, wantSamples(samples))},
		{name: "extensible PCM16 stereo",
			in:    wavFile("RIFF", 0, chunk("fmt ", fmtExtensible(PCM, 2, 48000, 16, 16)), chunk("data", pcm16(stereo...))),
			check: wantFormat(Format{PCM, 48000, 2, 16}, wantSamples(stereo))},
		{name: "extensible float32",
			in: wavFile("RIFF", 0, chunk("fmt ", fmtExtensible(Float, 1, 16000, 32, 32)), chunk("fact", le32(5)), chunk("data", floats)),
			check: wantFormat(Format{Float, 16000, 1, 32}, func(t *testing.T, a *Audio, _ error) {
				want := []float32{0.25, 0, 1, -1, -0.5} // NaN -> 0, clamped
				for i := range want {
					if a.Data[i] != want[i] {
						t.Fatalf("data %v, want %v", a.Data, want)
					}
				}
			})},
		{name: "extensible 24 bits in 32",
			in: wavFile("RIFF", 0, chunk("fmt ", fmtExtensible(PCM, 1, 96000, 32, 24)), chunk("data", in24)),
			check: wantFormat(Format{PCM, 96000, 1, 32}, func(t *testing.T, a *Audio, _ error) {
				if a.Data[0] != 0.5 || a.Data[1] != -0.5 || a.Data[2] < 0.999 {
					t.Fatalf("data %v, want [0.5 -0.5 ~1]", a.Data)
				}
			})},
		{name: "extensible mu-law",
			in:    wavFile("RIFF", 0, chunk("fmt ", fmtExtensible(MuLaw, 1, 8000, 8, 8)), chunk("data", []byte{0x00, 0xFF, 0x80})),
			check: wantFormat(Format{MuLaw, 8000, 1, 8}, wantSamples([]int16{-32124, 0, 32124}))},
		{name: "extensible unknown GUID",
			in:   wavFile("RIFF", 0, chunk("fmt ", fmtExtensibleGUID(ambisonicGUID, 2, 48000, 16, 16)), data),
			want: ErrUnsupportedEncoding, msg: []string{"{00000001-0721-11D3-8644-C8C1CA000000}"}},
		{name: "extensible MP3",
			in:   wavFile("RIFF", 0, chunk("fmt ", fmtExtensible(0x0055, 2, 44100, 16, 16)), data),
			want: ErrUnsupportedEncoding, msg: []string{"0x0055 (MPEG Layer III)"}},
		{name: "extensible fmt too short",
			in:   wavFile("RIFF", 0, chunk("fmt ", append(fmtBody(formatExtensible, 1, 16000, 16), 0, 0)), data),
			want: ErrMalformed, msg: []string{"EXTENSIBLE", "18 bytes"}},
		{name: "odd and unknown chunks skipped",
			in: wavFile("RIFF", 0,
				chunk("LIST", []byte("INFOx")), // odd size: padding byte follows
				fmt16,
				chunk("fact", le32(100)),
				chunk("JUNK", []byte{1, 2, 3}),
				data,
				chunk("id3 ", []byte("trailing metadata is not read")),
			),
			check: wantSamples(samples)},
		{name: "streamed data size 0xFFFFFFFF",
			in:    append(wavFile("RIFF", math.MaxUint32, fmt16, chunkSized("data", math.MaxUint32, pcm16(samples...))), 0x7F),
			check: wantSamples(samples)}, // the trailing odd byte is a partial frame: dropped
		{name: "streamed data size 0 after crash",
			in:    wavFile("RIFF", 36, fmt16, chunkSized("data", 0, pcm16(samples...))),
			check: wantSamples(samples)},
		{name: "empty data chunk followed by metadata",
			in:   wavFile("RIFF", 0, fmt16, chunkSized("data", 0, nil), chunk("LIST", []byte("INFO"))),
			want: ErrNoSamples, msg: []string{"empty"}},
		{name: "zero samples", in: wavFile("RIFF", 0, fmt16, chunk("data", nil)),
			want: ErrNoSamples, msg: []string{"data chunk is empty"}},
		{name: "less than one sample frame", in: wavFile("RIFF", 0, fmt16, chunk("data", []byte{1})),
			want: ErrNoSamples, msg: []string{"1 bytes, less than one 2-byte sample frame"}},
		{name: "no data chunk", in: wavFile("RIFF", 0, fmt16, chunk("LIST", []byte("INFO"))),
			want: ErrNoSamples, msg: []string{"without a data chunk"}},
		{name: "2 GB claim",
			in:   wavFile("RIFF", 0, fmt16, chunkSized("data", 1<<31, pcm16(samples...))),
			want: ErrTruncated, msg: []string{`"data" chunk: header declares 2147483648 bytes, only 200 present`},
			check: func(t *testing.T, a *Audio, err error) {
				var te *TruncatedError
				if !errors.As(err, &te) || te.Expected != 1<<31 || te.Present != 200 {
					t.Fatalf("err %#v", err)
				}
				wantSamples(samples)(t, a, err)
			}},
		{name: "truncated data keeps whole frames",
			in:   wavFile("RIFF", 0, chunk("fmt ", fmtBody(PCM, 2, 16000, 16)), chunkSized("data", 1000, pcm16(stereo[:5]...))),
			want: ErrTruncated, msg: []string{"declares 1000 bytes, only 10 present"},
			check: wantSamples(stereo[:4])},
		{name: "truncated data without a whole frame",
			in:   wavFile("RIFF", 0, fmt16, chunkSized("data", 1000, []byte{1})),
			want: ErrTruncated, msg: []string{"only 1 present"}},
		{name: "truncated fmt chunk",
			in:   wavFile("RIFF", 0, chunkSized("fmt ", 16, fmtBody(PCM, 1, 16000, 16)[:10])),
			want: ErrTruncated, msg: []string{`"fmt " chunk`}},
		{name: "truncated metadata chunk",
			in:   wavFile("RIFF", 0, fmt16, chunkSized("LIST", 5000, []byte("INFO"))),
			want: ErrTruncated, msg: []string{`"LIST" chunk: header declares 5000 bytes, only 4 present`}},
		{name: "huge metadata chunk",
			in:   wavFile("RIFF", 0, fmt16, chunkSized("LIST", 100<<20, []byte("INFO"))),
			want: ErrTooLarge, msg: []string{`"LIST" chunk of 104857600 bytes`}},
		{name: "8 channels",
			in:   wavFile("RIFF", 0, chunk("fmt ", fmtBody(PCM, 8, 48000, 16)), data),
			want: ErrUnsupportedChannels, msg: []string{"8 channels (only mono and stereo are supported)"}},
		{name: "8 channels extensible",
			in:   wavFile("RIFF", 0, chunk("fmt ", fmtExtensible(PCM, 8, 48000, 24, 24)), data),
			want: ErrUnsupportedChannels, msg: []string{"8 channels"}},
		{name: "0 channels",
			in:   wavFile("RIFF", 0, chunk("fmt ", fmtBodyAlign(PCM, 0, 16000, 16, 0)), data),
			want: ErrUnsupportedChannels, msg: []string{"0 channels"}},
		{name: "MP3",
			in:   wavFile("RIFF", 0, chunk("fmt ", fmtBodyAlign(0x0055, 1, 16000, 0, 1)), data),
			want: ErrUnsupportedEncoding, msg: []string{"media: wav: unsupported encoding 0x0055 (MPEG Layer III)"}},
		{name: "unnamed format tag",
			in:   wavFile("RIFF", 0, chunk("fmt ", fmtBody(0x1234, 1, 16000, 16)), data),
			want: ErrUnsupportedEncoding, msg: []string{"0x1234;"}},
		{name: "rate too low",
			in:   wavFile("RIFF", 0, chunk("fmt ", fmtBody(PCM, 1, 4000, 16)), data),
			want: ErrUnsupportedRate, msg: []string{"4000 Hz (supported 8000..192000 Hz)"}},
		{name: "rate zero",
			in:   wavFile("RIFF", 0, chunk("fmt ", fmtBody(PCM, 1, 0, 16)), data),
			want: ErrUnsupportedRate, msg: []string{" 0 Hz"}},
		{name: "12-bit PCM in 16-bit containers",
			in:    wavFile("RIFF", 0, chunk("fmt ", fmtBody(PCM, 1, 16000, 12)), data),
			check: wantFormat(Format{PCM, 16000, 1, 16}, wantSamples(samples))},
		{name: "40-bit PCM",
			in:   wavFile("RIFF", 0, chunk("fmt ", fmtBody(PCM, 1, 16000, 40)), data),
			want: ErrUnsupportedBits, msg: []string{"40-bit PCM (supported: 8, 16, 24 or 32)"}},
		{name: "16-bit float",
			in:   wavFile("RIFF", 0, chunk("fmt ", fmtBody(Float, 1, 16000, 16)), data),
			want: ErrUnsupportedBits, msg: []string{"16-bit IEEE float (supported: 32 or 64)"}},
		{name: "16-bit A-law",
			in:   wavFile("RIFF", 0, chunk("fmt ", fmtBody(ALaw, 1, 8000, 16)), data),
			want: ErrUnsupportedBits, msg: []string{"16-bit A-law"}},
		{name: "block align mismatch",
			in:   wavFile("RIFF", 0, chunk("fmt ", fmtBodyAlign(PCM, 1, 16000, 16, 3)), data),
			want: ErrMalformed, msg: []string{"block align 3, want 2 for 1 channels of 16-bit PCM"}},
		{name: "float block align mismatch",
			in:   wavFile("RIFF", 0, chunk("fmt ", fmtBodyAlign(Float, 2, 16000, 32, 4)), data),
			want: ErrMalformed, msg: []string{"block align 4, want 8"}},
		{name: "fmt chunk too short",
			in:   wavFile("RIFF", 0, chunk("fmt ", fmtBody(PCM, 1, 16000, 16)[:14]), data),
			want: ErrMalformed, msg: []string{"fmt chunk is 14 bytes, need at least 16"}},
		{name: "duplicate fmt", in: wavFile("RIFF", 0, fmt16, fmt16, data),
			want: ErrMalformed, msg: []string{"second fmt chunk"}},
		{name: "data before fmt", in: wavFile("RIFF", 0, data, fmt16),
			want: ErrNoFormat, msg: []string{"data chunk at byte 12 comes before any fmt chunk"}},
		{name: "no fmt at all", in: wavFile("RIFF", 0, chunk("LIST", []byte("INFO"))),
			want: ErrNoFormat},
		{name: "header only", in: wavFile("RIFF", 0), want: ErrNoFormat},
		{name: "empty input", in: nil, want: ErrNotWAV, msg: []string{"0 bytes"}},
		{name: "garbage", in: []byte("this is certainly not a WAV file, just text"),
			want: ErrNotWAV, msg: []string{`starts with "this"`}},
		{name: "AVI", in: append([]byte("RIFF\x04\x00\x00\x00AVI "), data...),
			want: ErrNotWAV, msg: []string{`"AVI "`}},
		{name: "8-bit unsigned",
			in:    wavFile("RIFF", 0, chunk("fmt ", fmtBody(PCM, 1, 8000, 8)), chunk("data", []byte{0x00, 0x80, 0xFF})),
			check: wantSamples([]int16{-32768, 0, 32512})},
		{name: "RF64 with ds64",
			in: wavFile("RF64", math.MaxUint32, chunk("ds64", ds64), fmt16,
				chunkSized("data", math.MaxUint32, pcm16(1, 2, 3, 4)), chunk("LIST", []byte("INFO"))),
			check: wantSamples([]int16{1, 2, 3, 4})},
		{name: "RF64 without ds64 streams",
			in:    wavFile("RF64", math.MaxUint32, fmt16, chunkSized("data", math.MaxUint32, pcm16(1, 2, 3))),
			check: wantSamples([]int16{1, 2, 3})},
	}
}

func TestReadWAVHandBuilt(t *testing.T) {
	for _, tc := range handBuiltCases() {
		t.Run(tc.name, func(t *testing.T) {
			a, err := ReadWAV(bytes.NewReader(tc.in))
			if tc.want == nil {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				checkAudio(t, a)
			} else {
				if !errors.Is(err, tc.want) {
					t.Fatalf("err %v, want %v", err, tc.want)
				}
				if a != nil && !errors.Is(err, ErrTruncated) {
					t.Fatalf("Audio returned with error %v", err)
				}
				if a != nil {
					checkAudio(t, a)
				}
				wantErrContains(t, err, tc.msg...)
			}
			if tc.check != nil {
				tc.check(t, a, err)
			}
			// DecodeWAV agrees.
			b, err2 := DecodeWAV(tc.in)
			if fmt.Sprint(err) != fmt.Sprint(err2) || (a == nil) != (b == nil) {
				t.Fatalf("DecodeWAV: %v, ReadWAV: %v", err2, err)
			}
		})
	}
}

// A header that claims 2 GB of data must cost memory in proportion to the
// data present, not the claim.
func TestReadWAVHugeClaimDoesNotAllocate(t *testing.T) {
	in := wavFile("RIFF", 0, chunk("fmt ", fmtBody(PCM, 1, 16000, 16)), chunkSized("data", 0xFFFFFFF0, pcm16(ramp16(1000)...)))
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	a, err := DecodeWAV(in)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrTruncated) || a == nil || len(a.Data) != 1000 {
		t.Fatalf("got %d samples, err %v; want 1000 samples and ErrTruncated", len(a.Data), err)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<20 {
		t.Fatalf("allocated %d bytes for 2000 bytes of data", alloc)
	}
}

func TestReadWAVTooLarge(t *testing.T) {
	defer func(old int64) { maxDataBytes = old }(maxDataBytes)
	maxDataBytes = 1000
	fmt16 := chunk("fmt ", fmtBody(PCM, 1, 16000, 16))
	for name, in := range map[string][]byte{
		"declared": wavFile("RIFF", 0, fmt16, chunk("data", pcm16(ramp16(600)...))),
		"streamed": wavFile("RIFF", 0, fmt16, chunkSized("data", math.MaxUint32, pcm16(ramp16(600)...))),
	} {
		if _, err := DecodeWAV(in); !errors.Is(err, ErrTooLarge) {
			t.Errorf("%s: err %v, want ErrTooLarge", name, err)
		}
	}
	// Exactly at the limit is fine, for reading and writing.
	if _, err := DecodeWAV(wavFile("RIFF", 0, fmt16, chunk("data", pcm16(ramp16(500)...)))); err != nil {
		t.Errorf("1000 bytes with a 1000-byte limit: %v", err)
	}
	a := &Audio{Format: Format{SampleRate: 16000, Channels: 1}, Data: make([]float32, 501)}
	if err := WriteWAV(io.Discard, a, 16); !errors.Is(err, ErrTooLarge) {
		t.Errorf("WriteWAV over the limit: %v, want ErrTooLarge", err)
	}
}

// ReadWAV stops after the data chunk: what follows is never read.
func TestReadWAVStopsAfterData(t *testing.T) {
	in := wavFile("RIFF", 0, chunk("fmt ", fmtBody(PCM, 1, 16000, 16)), chunk("data", pcm16(1, 2)))
	r := io.MultiReader(bytes.NewReader(in), iotestErrReader{errDisk})
	if _, err := ReadWAV(r); err != nil {
		t.Fatalf("read past the data chunk: %v", err)
	}
	// An I/O error inside the data is reported, wrapped.
	r = io.MultiReader(bytes.NewReader(in[:len(in)-2]), iotestErrReader{errDisk})
	if _, err := ReadWAV(r); !errors.Is(err, errDisk) {
		t.Fatalf("err %v, want it to wrap %v", err, errDisk)
	}
}

type iotestErrReader struct{ err error }

func (r iotestErrReader) Read([]byte) (int, error) { return 0, r.err }

func TestAudioMonoDurationPCM16(t *testing.T) {
	a := &Audio{
		Format: Format{Encoding: PCM, SampleRate: 44100, Channels: 2, BitsPerSample: 16},
		Data:   make([]float32, 2*44100),
	}
	tone := sine(44100, 44100, 1000, 0.5)
	for i, x := range tone {
		a.Data[2*i] = x      // left: the tone
		a.Data[2*i+1] = -0.5 // right: DC that the average halves
	}
	if got := a.Duration(); got != time.Second {
		t.Errorf("Duration %v, want 1s", got)
	}
	mono := a.Mono()
	if len(mono) != 44100 || mono[0] != -0.25 || mono[10] != (tone[10]-0.5)/2 {
		t.Fatalf("Mono: len %d, [0]=%v [10]=%v", len(mono), mono[0], mono[10])
	}
	mono[0] = 9 // Mono's result is a copy
	if a.Data[0] == 9 || a.Data[1] == 9 {
		t.Fatal("Mono shares memory with Data")
	}

	pcm, err := a.PCM16(Rate16k)
	if err != nil {
		t.Fatal(err)
	}
	if len(pcm) != 16000 {
		t.Fatalf("PCM16(16000) of 1 s: %d samples", len(pcm))
	}
	want := sine(16000, Rate16k, 1000, 0.25)
	for i := range want {
		want[i] -= 0.25
	}
	got := Int16ToFloat32(nil, pcm)
	if snr := snrDB(got, want, 800, 15200); snr < 60 {
		t.Errorf("44.1 kHz stereo -> 16 kHz mono: SNR %.1f dB, want >= 60", snr)
	}

	same, err := (&Audio{Format: Format{SampleRate: 16000, Channels: 1}, Data: []float32{0.5, -1.5}}).PCM16(16000)
	if err != nil || len(same) != 2 || same[0] != 16384 || same[1] != -32768 {
		t.Fatalf("PCM16 at the same rate: %v, %v", same, err)
	}
	if _, err := (&Audio{Format: Format{SampleRate: 16000, Channels: 2}, Data: []float32{0}}).PCM16(8000); !errors.Is(err, ErrInvalidAudio) {
		t.Errorf("partial frame: %v, want ErrInvalidAudio", err)
	}
	if _, err := (&Audio{Format: Format{SampleRate: 16000, Channels: 1}, Data: []float32{0}}).PCM16(1000); !errors.Is(err, ErrUnsupportedRate) {
		t.Errorf("1000 Hz: %v, want ErrUnsupportedRate", err)
	}
	empty := &Audio{}
	if empty.Duration() != 0 || len(empty.Mono()) != 0 || empty.Frames() != 0 {
		t.Error("zero Audio must have no frames and no duration")
	}
}

func TestEncodingString(t *testing.T) {
	for e, want := range map[Encoding]string{
		PCM: "PCM", Float: "IEEE float", MuLaw: "mu-law", ALaw: "A-law",
		0x0055: "0x0055 (MPEG Layer III)", 0x0002: "0x0002 (Microsoft ADPCM)", 0x4321: "0x4321",
	} {
		if got := e.String(); got != want {
			t.Errorf("Encoding(0x%04X).String() = %q, want %q", uint16(e), got, want)
		}
	}
}

// speechClip is a real recording from the shared data set (LibriSpeech,
// 16 kHz 16-bit mono), relative to this package's directory.
const speechClip = "../../shared/data/speech-clips/librispeech-1995-1837-0001.wav"

func TestReadWAVSpeechClip(t *testing.T) {
	raw, err := os.ReadFile(filepath.FromSlash(speechClip))
	if errors.Is(err, os.ErrNotExist) {
		t.Skipf("shared data absent: %s not found", speechClip)
	}
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.FromSlash(speechClip))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	a, err := ReadWAV(f)
	if err != nil {
		t.Fatal(err)
	}
	checkAudio(t, a)
	if want := (Format{PCM, 16000, 1, 16}); a.Format != want {
		t.Fatalf("format %+v, want %+v", a.Format, want)
	}
	// The clip's data chunk starts right after the 44-byte header.
	n := (len(raw) - 44) / 2
	if len(a.Data) != n {
		t.Fatalf("%d samples, want %d", len(a.Data), n)
	}
	t.Logf("%s: %v, %d samples", filepath.Base(speechClip), a.Duration(), n)

	// 16-bit PCM survives float and back exactly.
	pcm, err := a.PCM16(Rate16k)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if want := int16(binary.LittleEndian.Uint16(raw[44+2*i:])); pcm[i] != want {
			t.Fatalf("sample %d = %d, file has %d", i, pcm[i], want)
		}
	}
	// Through telephone bandwidth and back: same length, still speech.
	narrow, err := a.PCM16(Rate8k)
	if err != nil {
		t.Fatal(err)
	}
	if len(narrow) != (n+1)/2 {
		t.Fatalf("8 kHz: %d samples, want %d", len(narrow), (n+1)/2)
	}
	// And cut into 20 ms frames.
	framer, _ := NewFramer(Rate16k)
	frames := framer.Push(pcm)
	if last, ok := framer.Flush(); ok {
		frames = append(frames, last)
	}
	if want := (n + 319) / 320; len(frames) != want {
		t.Fatalf("%d frames, want %d", len(frames), want)
	}
}
