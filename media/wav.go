package media

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"time"
)

// Limits on WAV input. Uploaded recordings are outside input: the reader
// must not trust size fields, so every allocation follows bytes that have
// actually arrived and stops at these limits.
const (
	// MaxWAVBytes caps the audio data ReadWAV accepts: 512 MiB is about
	// 4.6 hours of 16 kHz 16-bit mono, far beyond any call, while the
	// decoded float32 samples (2 to 4 times the data size) still fit in
	// memory. WriteWAV refuses larger audio so that whatever it writes can
	// be read back.
	MaxWAVBytes = 512 << 20

	// MinSampleRate and MaxSampleRate bound the sample rates accepted for
	// WAV files and resampling: narrowband telephony to high-resolution
	// studio audio. A rate outside is a corrupt header far more often than
	// real audio.
	MinSampleRate = 8000
	MaxSampleRate = 192000
)

// maxDataBytes is MaxWAVBytes as a variable so that tests can exercise the
// limit without producing half a gigabyte of input.
var maxDataBytes int64 = MaxWAVBytes

// maxMetadataBytes caps the bytes of chunks other than audio (LIST, bext,
// JUNK, embedded pictures...) read before the data chunk, so that a stream
// of made-up chunks cannot keep ReadWAV reading forever.
const maxMetadataBytes = 64 << 20

// Encoding is how samples are stored in a WAV file: the WAVE format tag.
type Encoding uint16

// Encodings ReadWAV and WriteWAV support. The values are the WAVE format
// tags (mmreg.h), which are also the first two bytes of the sub-format GUID
// of a WAVE_FORMAT_EXTENSIBLE header.
const (
	PCM   Encoding = 0x0001 // linear PCM: 8-bit unsigned, 16/24/32-bit signed
	Float Encoding = 0x0003 // IEEE 754 float, 32 or 64 bits
	ALaw  Encoding = 0x0006 // G.711 A-law (PCMA), 8 bits
	MuLaw Encoding = 0x0007 // G.711 mu-law (PCMU), 8 bits
)

// formatExtensible is WAVE_FORMAT_EXTENSIBLE: the real encoding is in the
// sub-format GUID at the end of a 40-byte fmt chunk.
const formatExtensible = 0xFFFE

// otherEncodings names common format tags this package does not decode, so
// that the error tells the user what the file actually holds.
var otherEncodings = map[Encoding]string{
	0x0000:           "unknown",
	0x0002:           "Microsoft ADPCM",
	0x0011:           "IMA ADPCM",
	0x0031:           "GSM 6.10",
	0x0050:           "MPEG",
	0x0055:           "MPEG Layer III",
	0x0064:           "G.726 ADPCM",
	0x0065:           "G.722 ADPCM",
	0x00FF:           "AAC",
	0x0161:           "Windows Media Audio",
	0x2000:           "Dolby AC-3",
	0xF1AC:           "FLAC",
	formatExtensible: "WAVE_FORMAT_EXTENSIBLE",
}

// String names the encoding; unsupported ones read as the hex tag and,
// when known, the codec name, e.g. "0x0055 (MPEG Layer III)".
func (e Encoding) String() string {
	switch e {
	case PCM:
		return "PCM"
	case Float:
		return "IEEE float"
	case ALaw:
		return "A-law"
	case MuLaw:
		return "mu-law"
	}
	if name, ok := otherEncodings[e]; ok {
		return fmt.Sprintf("0x%04X (%s)", uint16(e), name)
	}
	return fmt.Sprintf("0x%04X", uint16(e))
}

// Format describes stored audio.
type Format struct {
	Encoding   Encoding
	SampleRate int // sample frames per second
	Channels   int // 1 (mono) or 2 (stereo)
	// BitsPerSample is the storage size of one sample of one channel: 8,
	// 16, 24 or 32 for PCM, 32 or 64 for Float, 8 for mu-law and A-law.
	// A file declaring fewer valid bits in a larger container (20 bits in
	// 24, say) reports the container, since that is how it is laid out.
	BitsPerSample int
}

// Validate reports whether ReadWAV could produce and WriteWAV can store f,
// naming the first unsupported field.
func (f Format) Validate() error {
	if err := checkEncoding(f.Encoding); err != nil {
		return err
	}
	if err := checkChannels(f.Channels); err != nil {
		return err
	}
	if err := checkRate(f.SampleRate); err != nil {
		return err
	}
	return checkBits(f.Encoding, f.BitsPerSample)
}

func checkEncoding(e Encoding) error {
	switch e {
	case PCM, Float, ALaw, MuLaw:
		return nil
	}
	return fmt.Errorf("%w %v; supported: PCM, IEEE float, mu-law, A-law", ErrUnsupportedEncoding, e)
}

func checkChannels(n int) error {
	if n == 1 || n == 2 {
		return nil
	}
	return fmt.Errorf("%w: %d channels (only mono and stereo are supported)", ErrUnsupportedChannels, n)
}

func checkRate(rate int) error {
	if rate >= MinSampleRate && rate <= MaxSampleRate {
		return nil
	}
	return fmt.Errorf("%w: %d Hz (supported %d..%d Hz)", ErrUnsupportedRate, rate, MinSampleRate, MaxSampleRate)
}

func checkBits(e Encoding, bits int) error {
	ok := false
	var want string
	switch e {
	case PCM:
		ok, want = bits == 8 || bits == 16 || bits == 24 || bits == 32, "8, 16, 24 or 32"
	case Float:
		ok, want = bits == 32 || bits == 64, "32 or 64"
	case ALaw, MuLaw:
		ok, want = bits == 8, "8"
	}
	if ok {
		return nil
	}
	return fmt.Errorf("%w: %d-bit %v (supported: %s)", ErrUnsupportedBits, bits, e, want)
}

// Audio is a decoded recording: samples as float32 in [-1, 1], interleaved
// by channel (left, right, left, right... for stereo). Float is the common
// ground every encoding converts to without loss of range, and what the
// resampler works in.
type Audio struct {
	Format Format
	Data   []float32
}

// Frames is the number of sample frames (one sample per channel).
func (a *Audio) Frames() int {
	if a.Format.Channels <= 0 {
		return 0
	}
	return len(a.Data) / a.Format.Channels
}

// Duration is the playing time of the audio.
func (a *Audio) Duration() time.Duration {
	if a.Format.SampleRate <= 0 {
		return 0
	}
	return samplesDuration(int64(a.Frames()), a.Format.SampleRate)
}

// Mono returns the audio as a single channel, averaging the channels of
// stereo audio (averaging rather than summing cannot clip). The result is
// always a new slice, so it may be modified freely. A trailing incomplete
// sample frame is ignored.
func (a *Audio) Mono() []float32 {
	ch := a.Format.Channels
	n := a.Frames()
	out := make([]float32, n)
	switch ch {
	case 0:
	case 1:
		copy(out, a.Data)
	case 2:
		for i := range out {
			out[i] = (a.Data[2*i] + a.Data[2*i+1]) * 0.5
		}
	default:
		scale := 1 / float32(ch)
		for i := range out {
			var sum float32
			for _, s := range a.Data[i*ch : (i+1)*ch] {
				sum += s
			}
			out[i] = sum * scale
		}
	}
	return out
}

// PCM16 returns the audio as mono 16-bit samples at rate Hz: what the
// recognisers and the 20 ms frame path take. It downmixes, resamples with
// a Resampler (so timing is preserved: output sample n is at time n/rate)
// and converts with clipping.
func (a *Audio) PCM16(rate int) ([]int16, error) {
	if err := checkChannels(a.Format.Channels); err != nil {
		return nil, err
	}
	if len(a.Data)%a.Format.Channels != 0 {
		return nil, fmt.Errorf("%w: %d samples is not a whole number of %d-channel frames",
			ErrInvalidAudio, len(a.Data), a.Format.Channels)
	}
	mono := a.Mono()
	if rate == a.Format.SampleRate {
		if err := checkRate(rate); err != nil {
			return nil, err
		}
		return Float32ToInt16(make([]int16, 0, len(mono)), mono), nil
	}
	rs, err := NewResampler(a.Format.SampleRate, rate)
	if err != nil {
		return nil, err
	}
	out := make([]int16, 0, rs.OutputLen(int64(len(mono))))
	// Feed in blocks so the resampler's output buffer stays small.
	const block = 1 << 16
	for len(mono) > 0 {
		n := min(block, len(mono))
		out = Float32ToInt16(out, rs.Process(mono[:n]))
		mono = mono[n:]
	}
	return Float32ToInt16(out, rs.Flush()), nil
}

// DecodeWAV parses a complete WAV file held in memory; see ReadWAV.
func DecodeWAV(data []byte) (*Audio, error) {
	return ReadWAV(bytes.NewReader(data))
}

// ReadWAV reads a RIFF/WAVE file (or its 64-bit variants RF64 and BW64)
// from r and decodes its samples to float32.
//
// Supported: PCM 8-bit unsigned and 16/24/32-bit signed (also with fewer
// valid bits in those containers), IEEE float 32 and 64 bits, G.711 mu-law
// and A-law; plain and WAVE_FORMAT_EXTENSIBLE headers; mono or stereo;
// 8000..192000 Hz. Float samples are clamped to [-1, 1] and NaNs replaced
// by 0, because one NaN would poison every later output of the resampling
// filter and downstream int16 conversion clips anyway.
//
// The file is outside input, so ReadWAV trusts no size field: chunks it
// does not need (LIST, fact, bext, JUNK...) are skipped, with their
// padding byte; reading stops after the data chunk, so r need not be read
// to its end; memory grows only as data actually arrives, up to
// MaxWAVBytes of audio data (ErrTooLarge beyond). A data chunk size of 0 or
// 0xFFFFFFFF, which streaming writers leave when they cannot seek back,
// means "until end of input"; a trailing partial sample frame is then
// dropped.
//
// ReadWAV is strict about truncation: if the input ends before the data
// chunk's declared size, it returns a *TruncatedError (errors.Is
// ErrTruncated) stating both sizes. If at least one whole sample frame
// arrived, it also returns the partial Audio alongside the error, for
// callers that prefer what is there; callers that only check err see a
// failure.
//
// Other errors: ErrNotWAV (not RIFF/WAVE), ErrNoFormat (no fmt chunk
// before the data), ErrMalformed, ErrUnsupportedEncoding,
// ErrUnsupportedChannels, ErrUnsupportedRate, ErrUnsupportedBits,
// ErrNoSamples (no data chunk, or no whole sample frame in it), and errors
// from r wrapped with %w.
func ReadWAV(r io.Reader) (*Audio, error) {
	var hdr [12]byte
	if n, err := io.ReadFull(r, hdr[:]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("%w: input is %d bytes, shorter than a RIFF header", ErrNotWAV, n)
		}
		return nil, fmt.Errorf("media: wav: reading RIFF header: %w", err)
	}
	form := string(hdr[0:4])
	if form != "RIFF" && form != "RF64" && form != "BW64" {
		return nil, fmt.Errorf("%w: starts with %q, want \"RIFF\"", ErrNotWAV, hdr[0:4])
	}
	if string(hdr[8:12]) != "WAVE" {
		return nil, fmt.Errorf("%w: RIFF form type is %q, want \"WAVE\"", ErrNotWAV, hdr[8:12])
	}
	p := &wavParser{
		r:        r,
		pos:      12,
		riffSize: binary.LittleEndian.Uint32(hdr[4:8]),
		rf64:     form != "RIFF",
		ds64Data: -1,
	}
	return p.parse()
}

// wavParser holds the state of one ReadWAV call.
type wavParser struct {
	r        io.Reader
	pos      int64  // bytes consumed from r
	riffSize uint32 // RIFF header size field; may be a placeholder
	rf64     bool
	ds64Data int64 // data size from an RF64 ds64 chunk, or -1
	meta     int64 // bytes of non-audio chunks consumed
	format   Format
	haveFmt  bool
}

func (p *wavParser) parse() (*Audio, error) {
	for {
		var h [8]byte
		n, err := io.ReadFull(p.r, h[:])
		p.pos += int64(n)
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			// End of input (a partial chunk header is trailing junk).
			if !p.haveFmt {
				return nil, fmt.Errorf("%w: input ends at byte %d without one", ErrNoFormat, p.pos)
			}
			return nil, fmt.Errorf("%w: input ends at byte %d without a data chunk", ErrNoSamples, p.pos)
		}
		if err != nil {
			return nil, fmt.Errorf("media: wav: reading chunk header at byte %d: %w", p.pos-int64(n), err)
		}
		id := string(h[0:4])
		size := binary.LittleEndian.Uint32(h[4:8])
		switch id {
		case "data":
			if !p.haveFmt {
				return nil, fmt.Errorf("%w: data chunk at byte %d comes before any fmt chunk", ErrNoFormat, p.pos-8)
			}
			return p.readData(size)
		case "fmt ":
			if p.haveFmt {
				return nil, fmt.Errorf("%w: second fmt chunk at byte %d", ErrMalformed, p.pos-8)
			}
			if err := p.readFmt(size); err != nil {
				return nil, err
			}
		case "ds64":
			if err := p.readDS64(size); err != nil {
				return nil, err
			}
		default:
			if err := p.skip(id, int64(size)); err != nil {
				return nil, err
			}
		}
	}
}

// body reads the first min(size, want) bytes of a chunk and skips the rest,
// including the padding byte of an odd-sized chunk.
func (p *wavParser) body(id string, size uint32, want int) ([]byte, error) {
	if err := p.account(id, int64(size)); err != nil {
		return nil, err
	}
	buf := make([]byte, min(int(size), want))
	n, err := io.ReadFull(p.r, buf)
	p.pos += int64(n)
	if err != nil {
		return nil, p.readErr(id, int64(size), int64(n), err)
	}
	return buf, p.discard(id, int64(size), int64(n))
}

// skip consumes a chunk this reader does not need.
func (p *wavParser) skip(id string, size int64) error {
	if err := p.account(id, size); err != nil {
		return err
	}
	return p.discard(id, size, 0)
}

// account charges a non-audio chunk to the metadata budget before any of
// it is read.
func (p *wavParser) account(id string, size int64) error {
	p.meta += size + size&1
	if p.meta > maxMetadataBytes {
		return fmt.Errorf("%w: %q chunk of %d bytes brings the chunks before the audio data over %d bytes",
			ErrTooLarge, id, size, maxMetadataBytes)
	}
	return nil
}

// discard consumes the rest of a chunk of which done bytes have been read,
// then its padding byte. A missing padding byte at end of input is
// tolerated: many writers omit it.
func (p *wavParser) discard(id string, size, done int64) error {
	if rest := size - done; rest > 0 {
		n, err := io.CopyN(io.Discard, p.r, rest)
		p.pos += n
		if err != nil {
			return p.readErr(id, size, done+n, err)
		}
	}
	if size&1 == 1 {
		var pad [1]byte
		n, err := io.ReadFull(p.r, pad[:])
		p.pos += int64(n)
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("media: wav: reading padding of %q chunk: %w", id, err)
		}
	}
	return nil
}

// readErr turns a failed chunk read into a *TruncatedError at end of input
// and a wrapped I/O error otherwise.
func (p *wavParser) readErr(id string, size, present int64, err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return &TruncatedError{Chunk: id, Expected: size, Present: present}
	}
	return fmt.Errorf("media: wav: reading %q chunk: %w", id, err)
}

// readDS64 takes the 64-bit data size from an RF64/BW64 ds64 chunk.
func (p *wavParser) readDS64(size uint32) error {
	b, err := p.body("ds64", size, 16)
	if err != nil {
		return err
	}
	if !p.rf64 {
		return nil // meaningless in a plain RIFF file
	}
	if len(b) < 16 {
		return fmt.Errorf("%w: ds64 chunk is %d bytes, need at least 16", ErrMalformed, size)
	}
	d := binary.LittleEndian.Uint64(b[8:16])
	p.ds64Data = int64(min(d, math.MaxInt64))
	return nil
}

// extensibleGUIDTail is the part of KSDATAFORMAT_SUBTYPE_* GUIDs after the
// format tag: {0000xxxx-0000-0010-8000-00AA00389B71} in byte order.
var extensibleGUIDTail = []byte{0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71}

func (p *wavParser) readFmt(size uint32) error {
	if size < 16 {
		return fmt.Errorf("%w: fmt chunk is %d bytes, need at least 16", ErrMalformed, size)
	}
	b, err := p.body("fmt ", size, 40)
	if err != nil {
		return err
	}
	le := binary.LittleEndian
	tag := Encoding(le.Uint16(b[0:2]))
	channels := int(le.Uint16(b[2:4]))
	rate := int(le.Uint32(b[4:8]))
	blockAlign := int(le.Uint16(b[12:14]))
	bits := int(le.Uint16(b[14:16]))
	if tag == formatExtensible {
		if len(b) < 40 {
			return fmt.Errorf("%w: WAVE_FORMAT_EXTENSIBLE fmt chunk is %d bytes, need 40", ErrMalformed, size)
		}
		guid := b[24:40]
		if !bytes.Equal(guid[2:], extensibleGUIDTail) {
			return fmt.Errorf("%w: WAVE_FORMAT_EXTENSIBLE sub-format %s", ErrUnsupportedEncoding, formatGUID(guid))
		}
		tag = Encoding(le.Uint16(guid[0:2]))
	}
	f, err := resolveFormat(tag, channels, rate, blockAlign, bits)
	if err != nil {
		return err
	}
	p.format, p.haveFmt = f, true
	return nil
}

// formatGUID renders a little-endian GUID the way Windows headers write it.
func formatGUID(g []byte) string {
	le := binary.LittleEndian
	return fmt.Sprintf("{%08X-%04X-%04X-%X-%X}", le.Uint32(g[0:4]), le.Uint16(g[4:6]), le.Uint16(g[6:8]), g[8:10], g[10:16])
}

// resolveFormat checks the fields of a fmt chunk and works out the storage
// size of a sample. The encoding is checked first because "this is MP3"
// explains a file better than anything about its bit depth.
func resolveFormat(tag Encoding, channels, rate, blockAlign, bits int) (Format, error) {
	if err := checkEncoding(tag); err != nil {
		return Format{}, err
	}
	if err := checkChannels(channels); err != nil {
		return Format{}, err
	}
	if err := checkRate(rate); err != nil {
		return Format{}, err
	}
	// A sample occupies whole bytes: PCM with fewer valid bits (12 or 20,
	// say) sits left-justified in the next byte size, so decoding it as
	// that size is exact. WAVE_FORMAT_EXTENSIBLE headers give the container
	// size here and the valid bits separately.
	if tag == PCM && bits >= 1 && bits <= 32 {
		bits = (bits + 7) / 8 * 8
	}
	if err := checkBits(tag, bits); err != nil {
		return Format{}, err
	}
	size := bits / 8
	if blockAlign != 0 && blockAlign != channels*size {
		return Format{}, fmt.Errorf("%w: block align %d, want %d for %d channels of %d-bit %v",
			ErrMalformed, blockAlign, channels*size, channels, bits, tag)
	}
	return Format{Encoding: tag, SampleRate: rate, Channels: channels, BitsPerSample: size * 8}, nil
}

// readData decodes the data chunk whose header declares size bytes.
func (p *wavParser) readData(size uint32) (*Audio, error) {
	declared := int64(size)
	streamed := false
	switch {
	case p.rf64 && size == math.MaxUint32 && p.ds64Data >= 0:
		declared = p.ds64Data
	case size == math.MaxUint32:
		streamed = true
	case size == 0:
		// A writer that could not seek back leaves 0. A genuinely empty
		// data chunk is told apart when the RIFF size is real and says
		// more chunks follow: then reading on would decode metadata.
		more := p.riffSize != 0 && p.riffSize != math.MaxUint32 && int64(p.riffSize)+8 > p.pos
		streamed = !more
	}

	f := p.format
	frame := f.Channels * f.BitsPerSample / 8
	limit := maxDataBytes + 1 // one byte more than allowed reveals excess
	if !streamed {
		limit = min(limit, declared)
	}
	lr := io.LimitReader(p.r, limit)

	// Grow with the data that arrives, never with the declared size: the
	// read buffer is at most 64 KiB, the samples slice grows by appending.
	chunk := frame * int(max(1, min(limit, 64<<10)/int64(frame)))
	buf := make([]byte, chunk)
	data := make([]float32, 0, chunk/(f.BitsPerSample/8))
	var total int64
	for {
		n, err := io.ReadFull(lr, buf)
		total += int64(n)
		data = decodeSamples(data, buf[:n-n%frame], f)
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("media: wav: reading data chunk: %w", err)
		}
	}
	p.pos += total

	if total > maxDataBytes {
		return nil, fmt.Errorf("%w: audio data exceeds %d bytes (MaxWAVBytes)", ErrTooLarge, maxDataBytes)
	}
	a := &Audio{Format: f, Data: data}
	if !streamed && total < declared {
		err := &TruncatedError{Chunk: "data", Expected: declared, Present: total}
		if len(data) == 0 {
			return nil, err
		}
		return a, err
	}
	if len(data) == 0 {
		if total == 0 {
			return nil, fmt.Errorf("%w: data chunk is empty", ErrNoSamples)
		}
		return nil, fmt.Errorf("%w: data chunk holds %d bytes, less than one %d-byte sample frame",
			ErrNoSamples, total, frame)
	}
	return a, nil
}

// Lookup tables for the 8-bit encodings.
var (
	u8Float = func() (t [256]float32) {
		for i := range t {
			t[i] = float32(i-128) / 128
		}
		return t
	}()
	muLawFloat = func() (t [256]float32) {
		for i := range t {
			t[i] = float32(muLawTable[i]) / 32768
		}
		return t
	}()
	aLawFloat = func() (t [256]float32) {
		for i := range t {
			t[i] = float32(aLawTable[i]) / 32768
		}
		return t
	}()
)

// decodeSamples appends the samples in src, a whole number of sample
// frames in format f, to dst.
func decodeSamples(dst []float32, src []byte, f Format) []float32 {
	size := f.BitsPerSample / 8
	n := len(src) / size
	dst = growFloat(dst, n)
	out := dst[len(dst) : len(dst)+n]
	le := binary.LittleEndian
	switch {
	case f.Encoding == MuLaw:
		for i, b := range src {
			out[i] = muLawFloat[b]
		}
	case f.Encoding == ALaw:
		for i, b := range src {
			out[i] = aLawFloat[b]
		}
	case f.Encoding == Float && size == 4:
		for i := range out {
			out[i] = sanitize(math.Float32frombits(le.Uint32(src[4*i:])))
		}
	case f.Encoding == Float && size == 8:
		for i := range out {
			out[i] = sanitize(float32(math.Float64frombits(le.Uint64(src[8*i:]))))
		}
	case size == 1:
		for i, b := range src {
			out[i] = u8Float[b]
		}
	case size == 2:
		for i := range out {
			out[i] = float32(int16(le.Uint16(src[2*i:]))) / (1 << 15)
		}
	case size == 3:
		for i := range out {
			b := src[3*i : 3*i+3]
			v := int32(uint32(b[0])<<8|uint32(b[1])<<16|uint32(b[2])<<24) >> 8
			out[i] = float32(v) / (1 << 23)
		}
	case size == 4:
		for i := range out {
			out[i] = float32(int32(le.Uint32(src[4*i:]))) / (1 << 31)
		}
	}
	return dst[:len(dst)+n]
}

// growFloat makes room for n more samples at the end of s, at least
// doubling so that appending a long file costs amortised linear time.
func growFloat(s []float32, n int) []float32 {
	if cap(s)-len(s) >= n {
		return s
	}
	ns := make([]float32, len(s), max(2*cap(s), len(s)+n))
	copy(ns, s)
	return ns
}

// sanitize clamps a float sample to [-1, 1] and maps NaN to 0.
func sanitize(x float32) float32 {
	switch {
	case x > 1:
		return 1
	case x < -1:
		return -1
	case x == x:
		return x
	default: // NaN
		return 0
	}
}

// WriteWAV writes a as a WAV file with samples stored in a.Format.Encoding
// (PCM when zero) at bits bits per sample; bits 0 means
// a.Format.BitsPerSample, or the encoding's usual size when that is zero
// too. Samples are clipped to [-1, 1] and rounded to nearest. PCM gets the
// canonical 44-byte header that every tool reads; float and G.711 get the
// 18-byte fmt chunk and the fact chunk the WAVE specification requires for
// non-PCM data. The file is written sequentially, so w need not seek.
//
// Audio beyond MaxWAVBytes of data is refused with ErrTooLarge, so that
// everything WriteWAV writes ReadWAV can read.
func WriteWAV(w io.Writer, a *Audio, bits int) error {
	if a == nil {
		return fmt.Errorf("%w: nil Audio", ErrInvalidAudio)
	}
	f := a.Format
	if f.Encoding == 0 {
		f.Encoding = PCM
	}
	if bits == 0 {
		bits = f.BitsPerSample
	}
	if bits == 0 {
		bits = map[Encoding]int{PCM: 16, Float: 32, ALaw: 8, MuLaw: 8}[f.Encoding]
	}
	f.BitsPerSample = bits
	if err := f.Validate(); err != nil {
		return err
	}
	if len(a.Data)%f.Channels != 0 {
		return fmt.Errorf("%w: %d samples is not a whole number of %d-channel frames",
			ErrInvalidAudio, len(a.Data), f.Channels)
	}
	size := bits / 8
	dataBytes := int64(len(a.Data)) * int64(size)
	if dataBytes > maxDataBytes {
		return fmt.Errorf("%w: %d bytes of audio data (MaxWAVBytes is %d)", ErrTooLarge, dataBytes, maxDataBytes)
	}

	pcm := f.Encoding == PCM
	fmtSize := 16
	if !pcm {
		fmtSize = 18
	}
	riffSize := int64(4+8+fmtSize+8) + dataBytes + dataBytes&1
	if !pcm {
		riffSize += 12
	}
	le := binary.LittleEndian
	h := make([]byte, 0, 64)
	h = append(h, "RIFF"...)
	h = le.AppendUint32(h, uint32(riffSize))
	h = append(h, "WAVEfmt "...)
	h = le.AppendUint32(h, uint32(fmtSize))
	h = le.AppendUint16(h, uint16(f.Encoding))
	h = le.AppendUint16(h, uint16(f.Channels))
	h = le.AppendUint32(h, uint32(f.SampleRate))
	h = le.AppendUint32(h, uint32(f.SampleRate*f.Channels*size))
	h = le.AppendUint16(h, uint16(f.Channels*size))
	h = le.AppendUint16(h, uint16(bits))
	if !pcm {
		h = le.AppendUint16(h, 0) // cbSize: no extension
		h = append(h, "fact"...)
		h = le.AppendUint32(h, 4)
		h = le.AppendUint32(h, uint32(len(a.Data)/f.Channels))
	}
	h = append(h, "data"...)
	h = le.AppendUint32(h, uint32(dataBytes))
	if _, err := w.Write(h); err != nil {
		return fmt.Errorf("media: wav: writing header: %w", err)
	}

	const block = 8192 // samples per write
	buf := make([]byte, 0, block*size)
	for data := a.Data; len(data) > 0; {
		n := min(block, len(data))
		buf = encodeSamples(buf[:0], data[:n], f.Encoding, size)
		if _, err := w.Write(buf); err != nil {
			return fmt.Errorf("media: wav: writing data: %w", err)
		}
		data = data[n:]
	}
	if dataBytes&1 == 1 {
		if _, err := w.Write([]byte{0}); err != nil {
			return fmt.Errorf("media: wav: writing padding: %w", err)
		}
	}
	return nil
}

// encodeSamples appends src stored as enc with size bytes per sample.
func encodeSamples(dst []byte, src []float32, enc Encoding, size int) []byte {
	le := binary.LittleEndian
	switch {
	case enc == MuLaw:
		for _, x := range src {
			dst = append(dst, MuLawEncode(floatToInt16(x)))
		}
	case enc == ALaw:
		for _, x := range src {
			dst = append(dst, ALawEncode(floatToInt16(x)))
		}
	case enc == Float && size == 4:
		for _, x := range src {
			dst = le.AppendUint32(dst, math.Float32bits(sanitize(x)))
		}
	case enc == Float && size == 8:
		for _, x := range src {
			dst = le.AppendUint64(dst, math.Float64bits(float64(sanitize(x))))
		}
	case size == 1:
		for _, x := range src {
			dst = append(dst, byte(quantize(x, 7)+128))
		}
	case size == 2:
		for _, x := range src {
			dst = le.AppendUint16(dst, uint16(floatToInt16(x)))
		}
	case size == 3:
		for _, x := range src {
			v := quantize(x, 23)
			dst = append(dst, byte(v), byte(v>>8), byte(v>>16))
		}
	case size == 4:
		for _, x := range src {
			dst = le.AppendUint32(dst, uint32(quantize(x, 31)))
		}
	}
	return dst
}

// quantize scales x in [-1, 1] to a signed integer of bits+1 bits (range
// -2^bits .. 2^bits-1), rounding to nearest and clipping.
func quantize(x float32, bits uint) int32 {
	full := float64(int64(1) << bits)
	v := math.Round(float64(sanitize(x)) * full)
	return int32(min(max(v, -full), full-1))
}
