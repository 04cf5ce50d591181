package openai

import "encoding/binary"

// encodeWAV returns samples as a canonical 44-byte-header RIFF/WAVE file:
// PCM, mono, 16-bit little endian, at rate.
func encodeWAV(samples []int16, rate int) []byte {
	const header = 44
	data := len(samples) * 2
	b := make([]byte, header+data)
	le := binary.LittleEndian
	copy(b[0:], "RIFF")
	le.PutUint32(b[4:], uint32(header-8+data))
	copy(b[8:], "WAVE")
	copy(b[12:], "fmt ")
	le.PutUint32(b[16:], 16)             // fmt chunk size
	le.PutUint16(b[20:], 1)              // PCM
	le.PutUint16(b[22:], 1)              // mono
	le.PutUint32(b[24:], uint32(rate))   // sample rate
	le.PutUint32(b[28:], uint32(rate*2)) // byte rate
	le.PutUint16(b[32:], 2)              // block align
	le.PutUint16(b[34:], 16)             // bits per sample
	copy(b[36:], "data")
	le.PutUint32(b[40:], uint32(data))
	for i, s := range samples {
		le.PutUint16(b[header+2*i:], uint16(s))
	}
	return b
}
