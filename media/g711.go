package media

import "math/bits"

// G.711 (ITU-T Recommendation G.711) companding: the PCMU (mu-law) and PCMA
// (A-law) codecs that telephony trunks, SIP/RTP and many call-recording WAV
// files carry. Each 8-bit code stands for one 14-bit (mu-law) or 13-bit
// (A-law) linear sample; here linear samples are 16-bit, left-justified, so
// the largest codes decode to 32124 (mu-law) and 32256 (A-law).
//
// Decoding matches the ITU-T G.191 reference code (STL g711.c), CPython's
// audioop, SoX and FFmpeg exactly. Encoding follows the G.191 reference,
// which takes negative samples to 14/13 bits by ones' complement; A-law
// output is therefore identical to those tools', while mu-law output of
// some negative samples right at a level boundary differs from
// audioop/FFmpeg (which round those the other way) by one level.
//
// Decoding is a table lookup because it runs on every sample of every
// inbound call. Encoding finds the segment with a bit-length instruction
// rather than a 64 KiB table that would compete with the rest of the audio
// path for cache.

// muLawBias is added to the magnitude before mu-law segmenting so that the
// segment boundaries fall on powers of two: G.711's 33, in 16-bit units.
const muLawBias = 0x84

var (
	muLawTable = func() (t [256]int16) {
		for i := range t {
			t[i] = muLawDecodeSlow(byte(i))
		}
		return t
	}()
	aLawTable = func() (t [256]int16) {
		for i := range t {
			t[i] = aLawDecodeSlow(byte(i))
		}
		return t
	}()
)

// muLawDecodeSlow expands one mu-law code; it builds muLawTable.
func muLawDecodeSlow(code byte) int16 {
	u := ^code // codes are transmitted with all bits inverted
	t := (int(u&0x0F)<<3 + muLawBias) << ((u & 0x70) >> 4)
	if u&0x80 != 0 {
		return int16(muLawBias - t)
	}
	return int16(t - muLawBias)
}

// aLawDecodeSlow expands one A-law code; it builds aLawTable.
func aLawDecodeSlow(code byte) int16 {
	a := code ^ 0x55 // even bits are inverted on the line
	t := int(a&0x0F) << 4
	switch seg := (a & 0x70) >> 4; seg {
	case 0:
		t += 8
	default:
		t = (t + 0x108) << (seg - 1)
	}
	if a&0x80 != 0 {
		return int16(t)
	}
	return int16(-t)
}

// MuLawDecode expands one G.711 mu-law (PCMU) code to a 16-bit sample.
func MuLawDecode(code byte) int16 { return muLawTable[code] }

// ALawDecode expands one G.711 A-law (PCMA) code to a 16-bit sample.
func ALawDecode(code byte) int16 { return aLawTable[code] }

// MuLawEncode compresses a 16-bit sample to a G.711 mu-law (PCMU) code.
// It follows the ITU-T G.191 reference encoder bit for bit: the sample is
// taken to 14 bits, negative samples by ones' complement (so -1 becomes
// "negative zero" rather than the first negative level), and magnitudes
// beyond the mu-law range saturate at the largest code.
func MuLawEncode(s int16) byte {
	mag := int(s)
	mask := byte(0xFF)
	if mag < 0 {
		mag = ^mag
		mask = 0x7F
	}
	v := mag>>2 + muLawBias>>2 // 14-bit magnitude plus bias
	if v > 0x1FFF {
		v = 0x1FFF
	}
	seg := bits.Len(uint(v >> 6)) // 0..7
	q := (v >> (seg + 1)) & 0x0F
	return byte(seg<<4|q) ^ mask
}

// ALawEncode compresses a 16-bit sample to a G.711 A-law (PCMA) code,
// following the ITU-T G.191 reference encoder bit for bit: the sample is
// taken to 13 bits, negative samples by ones' complement. A-law has no zero
// level: 0 encodes as the smallest positive code (decoding to 8).
func ALawEncode(s int16) byte {
	mag := int(s)
	mask := byte(0xD5)
	if mag < 0 {
		// Ones' complement so that -1 maps to the smallest negative level
		// and -32768 fits in the 15-bit magnitude.
		mag = -mag - 1
		mask = 0x55
	}
	mag >>= 3 // A-law works on 13-bit samples: 12 magnitude bits
	var code int
	if mag < 32 {
		code = mag >> 1 // segment 0: step 2 in 13-bit units
	} else {
		seg := bits.Len(uint(mag >> 5)) // 1..7
		code = seg<<4 | (mag>>seg)&0x0F
	}
	return byte(code) ^ mask
}

// DecodeMuLaw expands mu-law codes from src into dst, like copy: it decodes
// min(len(dst), len(src)) codes and returns that count, so a short dst is
// never written past and never panics.
func DecodeMuLaw(dst []int16, src []byte) int {
	n := min(len(dst), len(src))
	dst, src = dst[:n], src[:n]
	for i, c := range src {
		dst[i] = muLawTable[c]
	}
	return n
}

// DecodeALaw expands A-law codes from src into dst, like copy: it decodes
// min(len(dst), len(src)) codes and returns that count.
func DecodeALaw(dst []int16, src []byte) int {
	n := min(len(dst), len(src))
	dst, src = dst[:n], src[:n]
	for i, c := range src {
		dst[i] = aLawTable[c]
	}
	return n
}

// EncodeMuLaw compresses samples from src into mu-law codes in dst, like
// copy: it encodes min(len(dst), len(src)) samples and returns that count.
func EncodeMuLaw(dst []byte, src []int16) int {
	n := min(len(dst), len(src))
	dst, src = dst[:n], src[:n]
	for i, s := range src {
		dst[i] = MuLawEncode(s)
	}
	return n
}

// EncodeALaw compresses samples from src into A-law codes in dst, like
// copy: it encodes min(len(dst), len(src)) samples and returns that count.
func EncodeALaw(dst []byte, src []int16) int {
	n := min(len(dst), len(src))
	dst, src = dst[:n], src[:n]
	for i, s := range src {
		dst[i] = ALawEncode(s)
	}
	return n
}
