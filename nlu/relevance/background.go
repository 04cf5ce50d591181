package relevance

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"sync"
)

// ErrModel wraps every problem building or reading a relevance model.
var ErrModel = errors.New("relevance")

// Background file (version 1), little-endian:
//
//	"CBRB" magic, uint32 version, uint32 header length, JSON header (bits,
//	per-namespace totals, data sources with checksums), 1<<bits bytes of
//	quantized counts, 32-byte SHA-256 of everything before it.
//
// A count c is stored as 1+round(8*log2(c)) (0: never seen), an eighth of
// an octave: the model only ever takes its logarithm, so the rounding
// moves a log-likelihood by at most 0.05 nats. The buckets are FNV-1a
// hashes of the n-grams, so the file holds no text of the corpora, and
// the same corpora always give the same bytes, which is how the gate
// checks the shipped file is the one `callbrief models train` makes.
const (
	bgMagic   = "CBRB"
	bgVersion = 1
	// DefaultBits gives 512 Ki buckets: the corpora have about 400
	// thousand distinct n-grams, and a collision only blurs two rare ones.
	DefaultBits = 19
)

// DataSource records one corpus a background was built from.
type DataSource struct {
	Name      string `json:"name"`
	SHA256    string `json:"sha256"`
	Sentences int    `json:"sentences"`
}

// Source is one corpus to build from: its sentences and a checksum of
// the files they were read from.
type Source struct {
	Name   string
	SHA256 string
	Texts  []string
}

// Background is the general-language side: how often each n-gram occurs
// in a large body of text about everything but the hotline.
type Background struct {
	Bits    int            `json:"bits"`
	Totals  [numNS]float64 `json:"totals"`
	Sources []DataSource   `json:"sources"`
	q       []uint8
}

// BuildBackground counts the n-grams of every source's sentences.
func BuildBackground(sources []Source, bits int) (*Background, error) {
	if bits < 10 || bits > 24 {
		return nil, fmt.Errorf("%w: background bits %d out of range 10-24", ErrModel, bits)
	}
	counts := make([]uint64, 1<<bits)
	mask := uint32(1<<bits - 1)
	b := &Background{Bits: bits}
	var fs []feature
	for _, s := range sources {
		if len(s.Texts) == 0 {
			return nil, fmt.Errorf("%w: background source %s has no sentences", ErrModel, s.Name)
		}
		for _, t := range s.Texts {
			fs = features(t, fs[:0])
			for _, f := range fs {
				counts[f.hash&mask]++
				b.Totals[f.ns]++
			}
		}
		b.Sources = append(b.Sources, DataSource{Name: s.Name, SHA256: s.SHA256, Sentences: len(s.Texts)})
	}
	b.q = make([]uint8, len(counts))
	for i, c := range counts {
		if c > 0 {
			b.q[i] = uint8(min(255, 1+math.Round(8*math.Log2(float64(c)))))
		}
	}
	return b, nil
}

// count is the (dequantized) background count of f's bucket.
func (b *Background) count(f feature) float64 {
	v := b.q[f.hash&uint32(len(b.q)-1)]
	if v == 0 {
		return 0
	}
	return math.Exp2(float64(v-1) / 8)
}

// prob is the background probability of f within its namespace, with
// add-half smoothing so an n-gram general language never uses still has
// a (small) probability.
func (b *Background) prob(f feature) float64 {
	return (b.count(f) + 0.5) / (b.Totals[f.ns] + 0.5*float64(len(b.q)))
}

// MarshalBinary encodes the background in the versioned file format.
func (b *Background) MarshalBinary() ([]byte, error) {
	hj, err := json.Marshal(b)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	le := binary.LittleEndian
	buf.WriteString(bgMagic)
	buf.Write(le.AppendUint32(nil, bgVersion))
	buf.Write(le.AppendUint32(nil, uint32(len(hj))))
	buf.Write(hj)
	buf.Write(b.q)
	sum := sha256.Sum256(buf.Bytes())
	buf.Write(sum[:])
	return buf.Bytes(), nil
}

// UnmarshalBackground decodes a background file, refusing one that is
// truncated, altered or of another version.
func UnmarshalBackground(data []byte) (*Background, error) {
	if len(data) < 12+sha256.Size || string(data[:4]) != bgMagic {
		return nil, fmt.Errorf("%w: not a background file (no %s header)", ErrModel, bgMagic)
	}
	body, tail := data[:len(data)-sha256.Size], data[len(data)-sha256.Size:]
	if sum := sha256.Sum256(body); !bytes.Equal(sum[:], tail) {
		return nil, fmt.Errorf("%w: background file checksum mismatch (truncated or altered)", ErrModel)
	}
	le := binary.LittleEndian
	if v := le.Uint32(body[4:]); v != bgVersion {
		return nil, fmt.Errorf("%w: background file version %d, want %d", ErrModel, v, bgVersion)
	}
	n := int(le.Uint32(body[8:]))
	if n > len(body)-12 {
		return nil, fmt.Errorf("%w: background header length %d exceeds the file", ErrModel, n)
	}
	var b Background
	if err := json.Unmarshal(body[12:12+n], &b); err != nil {
		return nil, fmt.Errorf("%w: background header: %w", ErrModel, err)
	}
	if b.Bits < 10 || b.Bits > 24 {
		return nil, fmt.Errorf("%w: background bits %d out of range 10-24", ErrModel, b.Bits)
	}
	q := body[12+n:]
	if len(q) != 1<<b.Bits {
		return nil, fmt.Errorf("%w: background has %d buckets, header says %d", ErrModel, len(q), 1<<b.Bits)
	}
	for ns, t := range b.Totals {
		if !(t > 0) || math.IsInf(t, 0) {
			return nil, fmt.Errorf("%w: background total of namespace %d is %v", ErrModel, ns, t)
		}
	}
	b.q = append([]uint8(nil), q...)
	return &b, nil
}

// Save writes the background file atomically.
func (b *Background) Save(path string) error {
	data, err := b.MarshalBinary()
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// LoadBackground reads a background file.
func LoadBackground(path string) (*Background, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrModel, err)
	}
	b, err := UnmarshalBackground(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return b, nil
}

//go:embed background.cbrb
var embeddedBackground []byte

var (
	defaultOnce sync.Once
	defaultBG   *Background
	defaultErr  error
)

// DefaultBackground is the background built into the binary (built by
// `callbrief models train --models relevance` from the corpora its header
// names).
func DefaultBackground() (*Background, error) {
	defaultOnce.Do(func() {
		defaultBG, defaultErr = UnmarshalBackground(embeddedBackground)
	})
	return defaultBG, defaultErr
}

// EmbeddedBytes is the built-in background file, for the check that it is
// the one the corpora and code build.
func EmbeddedBytes() []byte { return embeddedBackground }
