package linear

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
)

// File format (version 1), little-endian:
//
//	"CBLM" magic, uint32 version, uint32 header length, JSON header,
//	uint32 features F, F uint64 hashes, F float32 idf,
//	F*C float32 weights (feature-major), C float32 biases,
//	32-byte SHA-256 of everything before it.
//
// A custom binary layout rather than gob keeps the file compact (a few MB
// for 150 classes) and readable from other languages; the checksum turns
// a truncated or corrupted copy into a clear error instead of a model
// that silently answers wrong.
const (
	fileMagic   = "CBLM"
	fileVersion = 1
	// maxFileFeatures bounds allocations when reading an untrusted file.
	maxFileFeatures = 1 << 24
	maxFileClasses  = 1 << 12
)

type header struct {
	Labels      []string `json:"labels"`
	Features    Features `json:"features"`
	Temperature float64  `json:"temperature"`
	Threshold   float64  `json:"threshold"`
	OOSLabel    string   `json:"oos_label,omitempty"`
}

// WriteTo writes the model in the versioned binary format.
func (m *Model) WriteTo(w io.Writer) (int64, error) {
	var buf bytes.Buffer
	hj, err := json.Marshal(header{m.Labels, m.Features, m.Temperature, m.Threshold, m.OOSLabel})
	if err != nil {
		return 0, err
	}
	buf.WriteString(fileMagic)
	le := binary.LittleEndian
	buf.Write(le.AppendUint32(nil, fileVersion))
	buf.Write(le.AppendUint32(nil, uint32(len(hj))))
	buf.Write(hj)
	buf.Write(le.AppendUint32(nil, uint32(len(m.hashes))))
	b := make([]byte, 0, 8*len(m.hashes))
	for _, h := range m.hashes {
		b = le.AppendUint64(b, h)
	}
	buf.Write(b)
	for _, fs := range [][]float32{m.idf, m.w, m.b} {
		b = b[:0]
		for _, v := range fs {
			b = le.AppendUint32(b, math.Float32bits(v))
		}
		buf.Write(b)
	}
	sum := sha256.Sum256(buf.Bytes())
	buf.Write(sum[:])
	return buf.WriteTo(w)
}

// Save writes the model to path (via a temporary file, so a crash never
// leaves a half-written model behind).
func (m *Model) Save(path string) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(f)
	if _, err := m.WriteTo(bw); err != nil {
		f.Close()
		return err
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// Load reads a model file.
func Load(path string) (*Model, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	m, err := Decode(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// Decode parses a model from its file bytes, checking the checksum first.
func Decode(b []byte) (*Model, error) {
	if len(b) < 4+8+32 || string(b[:4]) != fileMagic {
		return nil, fmt.Errorf("%w: not a model file", ErrModel)
	}
	body, sum := b[:len(b)-32], b[len(b)-32:]
	if got := sha256.Sum256(body); !bytes.Equal(got[:], sum) {
		return nil, fmt.Errorf("%w: checksum mismatch (file truncated or corrupted)", ErrModel)
	}
	le := binary.LittleEndian
	if v := le.Uint32(body[4:]); v != fileVersion {
		return nil, fmt.Errorf("%w: version %d, this build reads %d", ErrModel, v, fileVersion)
	}
	r := body[8:]
	take := func(n int) ([]byte, error) {
		if n < 0 || n > len(r) {
			return nil, fmt.Errorf("%w: truncated", ErrModel)
		}
		out := r[:n]
		r = r[n:]
		return out, nil
	}
	hl, err := take(4)
	if err != nil {
		return nil, err
	}
	hj, err := take(int(le.Uint32(hl)))
	if err != nil {
		return nil, err
	}
	var h header
	if err := json.Unmarshal(hj, &h); err != nil {
		return nil, fmt.Errorf("%w: header: %w", ErrModel, err)
	}
	C := len(h.Labels)
	fb, err := take(4)
	if err != nil {
		return nil, err
	}
	F := int(le.Uint32(fb))
	if C < 2 || C > maxFileClasses || F > maxFileFeatures {
		return nil, fmt.Errorf("%w: %d classes, %d features", ErrModel, C, F)
	}
	hb, err := take(8 * F)
	if err != nil {
		return nil, err
	}
	floats := func(n int) ([]float32, error) {
		fb, err := take(4 * n)
		if err != nil {
			return nil, err
		}
		out := make([]float32, n)
		for i := range out {
			out[i] = math.Float32frombits(le.Uint32(fb[4*i:]))
		}
		return out, nil
	}
	m := &Model{Labels: h.Labels, Features: h.Features, Temperature: h.Temperature, Threshold: h.Threshold, OOSLabel: h.OOSLabel}
	if m.idf, err = floats(F); err != nil {
		return nil, err
	}
	if m.w, err = floats(F * C); err != nil {
		return nil, err
	}
	if m.b, err = floats(C); err != nil {
		return nil, err
	}
	if len(r) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrModel, len(r))
	}
	m.hashes = make([]uint64, F)
	m.vocab = make(map[uint64]int32, F)
	for i := range m.hashes {
		m.hashes[i] = le.Uint64(hb[8*i:])
		m.vocab[m.hashes[i]] = int32(i)
	}
	return m, nil
}
