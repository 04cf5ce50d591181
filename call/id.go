package call

import (
	"crypto/rand"
	"time"
)

// crockford is Crockford's base-32 alphabet: no I, L, O or U, so an id read
// out over the phone or copied by hand is not mistaken for another.
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// NewID returns a call id unique across nodes and restarts, in the ULID
// layout: 48 bits of milliseconds since the epoch then 80 random bits, 26
// characters of Crockford base 32. Ids sort by the time they were made, so
// logs and stores list calls in order, and no node needs to coordinate with
// another (a per-process counter collided across nodes and after restarts).
func NewID(now time.Time) string {
	var b [16]byte
	ms := uint64(now.UnixMilli())
	for i := 5; i >= 0; i-- {
		b[i] = byte(ms)
		ms >>= 8
	}
	// crypto/rand never fails on the platforms Go supports (it panics
	// instead), so the error is not a case to handle.
	_, _ = rand.Read(b[6:])
	return encode128(b)
}

// encode128 writes 128 bits as 26 base-32 digits, most significant first
// (the first digit carries the top 3 bits).
func encode128(b [16]byte) string {
	var out [26]byte
	// Walk the 130-bit field (two leading zero bits) five bits at a time.
	bit := -2
	for i := range out {
		var v byte
		for j := 0; j < 5; j++ {
			v <<= 1
			if bit >= 0 {
				v |= (b[bit/8] >> (7 - bit%8)) & 1
			}
			bit++
		}
		out[i] = crockford[v]
	}
	return string(out[:])
}

// ValidID reports whether s has the shape of an id NewID makes. Ids from
// outside (a URL path, a desk request) are checked before they name a key
// in the shared store.
func ValidID(s string) bool {
	if len(s) != 26 || s[0] > '7' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z') || c == 'I' || c == 'L' || c == 'O' || c == 'U' {
			return false
		}
	}
	return true
}
