package media

import (
	"crypto/sha256"
	"encoding/hex"
	"math"
	"testing"
)

// The stlXxx functions transliterate the ITU-T G.191 Software Tool Library
// reference code (g711.c: alaw_compress, alaw_expand, ulaw_compress,
// ulaw_expand) one sample at a time. They are deliberately written the
// STL's way, loops and nibble arithmetic, not the way g711.go is, so that
// comparing the two over every input checks the implementation against
// the standard's reference rather than against itself.

func stlALawCompress(lin int16) byte {
	var ix int
	if lin < 0 {
		ix = (^int(lin)) >> 4
	} else {
		ix = int(lin) >> 4
	}
	if ix > 15 {
		iexp := 1
		for ix > 16+15 {
			ix >>= 1
			iexp++
		}
		ix -= 16
		ix += iexp << 4
	}
	if lin >= 0 {
		ix |= 0x80
	}
	return byte(ix ^ 0x55)
}

func stlALawExpand(log byte) int16 {
	ix := int(log) ^ 0x55
	ix &= 0x7F
	iexp := ix >> 4
	mant := ix & 0x0F
	if iexp > 0 {
		mant += 16
	}
	mant = (mant << 4) + 0x08
	if iexp > 1 {
		mant <<= iexp - 1
	}
	if log > 127 {
		return int16(mant)
	}
	return int16(-mant)
}

func stlMuLawCompress(lin int16) byte {
	var absno int
	if lin < 0 {
		absno = ((^int(lin)) >> 2) + 33
	} else {
		absno = (int(lin) >> 2) + 33
	}
	if absno > 0x1FFF {
		absno = 0x1FFF
	}
	i := absno >> 6
	segno := 1
	for i != 0 {
		segno++
		i >>= 1
	}
	high := 0x08 - segno
	low := 0x0F - (absno>>segno)&0x0F
	log := high<<4 | low
	if lin >= 0 {
		log |= 0x80
	}
	return byte(log)
}

func stlMuLawExpand(log byte) int16 {
	sign := 1
	if log < 0x80 {
		sign = -1
	}
	mantissa := ^int(log)
	exponent := (mantissa >> 4) & 0x07
	segment := exponent + 1
	mantissa &= 0x0F
	step := 4 << segment
	return int16(sign * ((0x80 << exponent) + step*mantissa + step/2 - 4*33))
}

func TestG711MatchesITUReference(t *testing.T) {
	for c := 0; c < 256; c++ {
		if got, want := MuLawDecode(byte(c)), stlMuLawExpand(byte(c)); got != want {
			t.Errorf("MuLawDecode(0x%02X) = %d, reference %d", c, got, want)
		}
		if got, want := ALawDecode(byte(c)), stlALawExpand(byte(c)); got != want {
			t.Errorf("ALawDecode(0x%02X) = %d, reference %d", c, got, want)
		}
	}
	bad := 0
	for v := math.MinInt16; v <= math.MaxInt16 && bad < 10; v++ {
		s := int16(v)
		if got, want := MuLawEncode(s), stlMuLawCompress(s); got != want {
			t.Errorf("MuLawEncode(%d) = 0x%02X, reference 0x%02X", s, got, want)
			bad++
		}
		if got, want := ALawEncode(s), stlALawCompress(s); got != want {
			t.Errorf("ALawEncode(%d) = 0x%02X, reference 0x%02X", s, got, want)
			bad++
		}
	}
}

// Published decode tables (the first row of the widely reproduced
// MuLawDecompressTable and ALawDecompressTable) and edge codes.
func TestG711DecodeKnownVectors(t *testing.T) {
	mu := []int16{-32124, -31100, -30076, -29052, -28028, -27004, -25980, -24956,
		-23932, -22908, -21884, -20860, -19836, -18812, -17788, -16764}
	al := []int16{-5504, -5248, -6016, -5760, -4480, -4224, -4992, -4736,
		-7552, -7296, -8064, -7808, -6528, -6272, -7040, -6784}
	for i := range mu {
		if got := MuLawDecode(byte(i)); got != mu[i] {
			t.Errorf("MuLawDecode(0x%02X) = %d, want %d", i, got, mu[i])
		}
		if got := ALawDecode(byte(i)); got != al[i] {
			t.Errorf("ALawDecode(0x%02X) = %d, want %d", i, got, al[i])
		}
	}
	for _, tc := range []struct {
		code     byte
		mu, alaw int16
	}{
		{0x00, -32124, -5504},
		{0x7F, 0, -848}, // mu-law "negative zero"
		{0x80, 32124, 5504},
		{0xFF, 0, 848},
		{0x55, -716, -8}, // A-law's smallest levels
		{0xD5, 716, 8},
		{0xAA, 5372, 32256}, // A-law's largest levels
		{0x2A, -5372, -32256},
		{0x70, -120, -688},
		{0xF0, 120, 688},
	} {
		if got := MuLawDecode(tc.code); got != tc.mu {
			t.Errorf("MuLawDecode(0x%02X) = %d, want %d", tc.code, got, tc.mu)
		}
		if got := ALawDecode(tc.code); got != tc.alaw {
			t.Errorf("ALawDecode(0x%02X) = %d, want %d", tc.code, got, tc.alaw)
		}
	}
}

func TestG711EncodeKnownVectors(t *testing.T) {
	for _, tc := range []struct {
		in       int16
		mu, alaw byte
	}{
		{0, 0xFF, 0xD5},
		{1, 0xFF, 0xD5},
		{-1, 0x7F, 0x55}, // ones' complement: mu-law negative zero
		{100, 0xF2, 0xD3},
		{1000, 0xCE, 0xFA},
		{-1000, 0x4E, 0x7A},
		{8000, 0xA0, 0x8A},
		{-8000, 0x20, 0x0A},
		{32767, 0x80, 0xAA},
		{-32768, 0x00, 0x2A},
	} {
		if got := MuLawEncode(tc.in); got != tc.mu {
			t.Errorf("MuLawEncode(%d) = 0x%02X, want 0x%02X", tc.in, got, tc.mu)
		}
		if got := ALawEncode(tc.in); got != tc.alaw {
			t.Errorf("ALawEncode(%d) = 0x%02X, want 0x%02X", tc.in, got, tc.alaw)
		}
	}
}

// The SHA-256 digests were computed with CPython 3.11's audioop
// (lin2alaw, lin2ulaw), an independent implementation: A-law over every
// int16, mu-law over the non-negative half (audioop takes negative samples
// to 14 bits by flooring, the ITU reference by ones' complement; see
// g711.go).
func TestG711MatchesAudioop(t *testing.T) {
	all := make([]int16, 0, 1<<16)
	for v := math.MinInt16; v <= math.MaxInt16; v++ {
		all = append(all, int16(v))
	}
	enc := make([]byte, len(all))
	EncodeALaw(enc, all)
	if got, want := digest(enc), "38488f6fd710f4686360edc4d38639f96c491595ef93f8eb8d62d5e07ca6ce7b"; got != want {
		t.Errorf("A-law encoding of all int16: sha256 %s, audioop %s", got, want)
	}
	EncodeMuLaw(enc, all)
	if got, want := digest(enc[1<<15:]), "912062bf9c931c7ebc1dc1fd1d74faf0cfefcd47e8408a3ed4d07aa59f0f1c20"; got != want {
		t.Errorf("mu-law encoding of 0..32767: sha256 %s, audioop %s", got, want)
	}
}

func digest(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func TestG711RoundTrip(t *testing.T) {
	// Every code survives decode+encode, except mu-law 0x7F (negative
	// zero), which decodes to 0 like 0xFF and re-encodes as 0xFF.
	for c := 0; c < 256; c++ {
		if got := MuLawEncode(MuLawDecode(byte(c))); got != byte(c) && c != 0x7F {
			t.Errorf("mu-law 0x%02X -> %d -> 0x%02X", c, MuLawDecode(byte(c)), got)
		}
		if got := ALawEncode(ALawDecode(byte(c))); got != byte(c) {
			t.Errorf("A-law 0x%02X -> %d -> 0x%02X", c, ALawDecode(byte(c)), got)
		}
	}

	// Error bounds over every sample. A level's half-width grows with the
	// magnitude (about 1/32 of it, plus the 14- or 13-bit truncation);
	// beyond the largest level (32124 and 32256) the error is the clip.
	var maxMu, maxA int
	prevMu, prevA := math.MinInt, math.MinInt
	for v := math.MinInt16; v <= math.MaxInt16; v++ {
		s := int16(v)
		a := abs(v)
		mu := int(MuLawDecode(MuLawEncode(s)))
		al := int(ALawDecode(ALawEncode(s)))
		if a <= 32124 {
			if e := abs(mu - v); e > (a+132)/32+4 {
				t.Errorf("mu-law %d -> %d: error %d > bound %d", v, mu, e, (a+132)/32+4)
			}
		}
		if a <= 32256 {
			if e := abs(al - v); e > a/32+16 {
				t.Errorf("A-law %d -> %d: error %d > bound %d", v, al, e, a/32+16)
			}
		}
		maxMu = max(maxMu, abs(mu-v))
		maxA = max(maxA, abs(al-v))
		// Companding is monotonic: a louder input never decodes quieter.
		if mu < prevMu || al < prevA {
			t.Fatalf("not monotonic at %d: mu %d after %d, A %d after %d", v, mu, prevMu, al, prevA)
		}
		prevMu, prevA = mu, al
	}
	if maxMu > 644 || maxA > 512 {
		t.Errorf("worst error mu-law %d (want <= 644), A-law %d (want <= 512)", maxMu, maxA)
	}
}

// G.711's signal-to-quantisation-noise ratio stays in the mid to high 30s
// of dB over a wide range of levels, which is the point of companding;
// check a -10 dBFS and a -30 dBFS tone.
func TestG711SNR(t *testing.T) {
	for _, tc := range []struct{ level, minSNR float64 }{{-10, 36}, {-30, 33}} {
		level := tc.level
		x := sine(8000, Rate8k, 1004, math.Pow(10, level/20)) // 1004 Hz: the ITU test tone, not a divisor of 8 kHz
		pcm := Float32ToInt16(nil, x)
		codes := make([]byte, len(pcm))
		back := make([]int16, len(pcm))
		ref := Int16ToFloat32(nil, pcm)

		EncodeMuLaw(codes, pcm)
		DecodeMuLaw(back, codes)
		muSNR := snrDB(Int16ToFloat32(nil, back), ref, 0, len(ref))
		EncodeALaw(codes, pcm)
		DecodeALaw(back, codes)
		aSNR := snrDB(Int16ToFloat32(nil, back), ref, 0, len(ref))
		t.Logf("1004 Hz at %.0f dBFS: mu-law SNR %.1f dB, A-law SNR %.1f dB", level, muSNR, aSNR)
		if muSNR < tc.minSNR || aSNR < tc.minSNR {
			t.Errorf("%.0f dBFS: SNR mu-law %.1f dB, A-law %.1f dB, want >= %.0f", level, muSNR, aSNR, tc.minSNR)
		}
	}
}

func TestG711SliceFunctionsCopySemantics(t *testing.T) {
	src := []int16{0, 1000, -1000, 32767}
	codes := make([]byte, 3) // shorter than src
	if n := EncodeMuLaw(codes, src); n != 3 {
		t.Fatalf("EncodeMuLaw into 3 bytes wrote %d", n)
	}
	dst := make([]int16, 10) // longer than codes
	if n := DecodeMuLaw(dst, codes); n != 3 {
		t.Fatalf("DecodeMuLaw of 3 codes wrote %d", n)
	}
	if dst[3] != 0 || dst[1] != MuLawDecode(MuLawEncode(1000)) {
		t.Errorf("DecodeMuLaw wrote %v", dst)
	}
	if n := EncodeALaw(codes, src); n != 3 {
		t.Fatalf("EncodeALaw wrote %d", n)
	}
	if n := DecodeALaw(dst[:2], codes); n != 2 {
		t.Fatalf("DecodeALaw into 2 samples wrote %d", n)
	}
	if dst[1] != ALawDecode(ALawEncode(1000)) {
		t.Errorf("DecodeALaw wrote %v", dst[:2])
	}
	if DecodeMuLaw(nil, codes) != 0 || EncodeALaw(nil, src) != 0 {
		t.Error("nil destination must decode nothing")
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
