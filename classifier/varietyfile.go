package classifier

import (
	"bytes"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"sort"
)

// Variety model file (version 1), little-endian:
//
//	"CBVM" magic, uint32 version, uint32 header length, JSON header
//	(labels, temperature, unsure threshold, options, data sources with
//	checksums), uint32 features F, then F times: uint16 key length, key
//	bytes, C float32 weights; C float32 biases; 32-byte SHA-256 of
//	everything before it.
//
// Features are written in key order, so the same model always gives the
// same bytes: `callbrief models train` run twice on the same data writes
// identical files, which is how the gate checks that the shipped model is
// the one the data and code make.
const (
	varietyMagic   = "CBVM"
	varietyVersion = 1
	maxVarietyFeat = 1 << 22
	maxVarietyKey  = 256
)

type varietyHeader struct {
	Labels      []string       `json:"labels"`
	Temperature float64        `json:"temperature"`
	Unsure      float64        `json:"unsure"`
	Options     VarietyOptions `json:"options"`
	Data        []DataSource   `json:"data"`
}

// MarshalBinary encodes the model in the versioned file format.
func (m *VarietyModel) MarshalBinary() ([]byte, error) {
	var buf bytes.Buffer
	hj, err := json.Marshal(varietyHeader{m.Labels, m.Temperature, m.Unsure, m.Options, m.Data})
	if err != nil {
		return nil, err
	}
	le := binary.LittleEndian
	buf.WriteString(varietyMagic)
	buf.Write(le.AppendUint32(nil, varietyVersion))
	buf.Write(le.AppendUint32(nil, uint32(len(hj))))
	buf.Write(hj)
	keys := make([]string, 0, len(m.w))
	for k := range m.w {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	buf.Write(le.AppendUint32(nil, uint32(len(keys))))
	for _, k := range keys {
		if len(k) > maxVarietyKey {
			return nil, fmt.Errorf("%w: feature key of %d bytes", ErrModel, len(k))
		}
		buf.Write(le.AppendUint16(nil, uint16(len(k))))
		buf.WriteString(k)
		for _, v := range m.w[k] {
			buf.Write(le.AppendUint32(nil, math.Float32bits(v)))
		}
	}
	for _, v := range m.b {
		buf.Write(le.AppendUint32(nil, math.Float32bits(v)))
	}
	h := sha256.Sum256(buf.Bytes())
	buf.Write(h[:])
	return buf.Bytes(), nil
}

// Save writes the model to path atomically (a temporary file renamed), so
// a service starting meanwhile never reads half a model.
func (m *VarietyModel) Save(path string) error {
	b, err := m.MarshalBinary()
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".variety-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// LoadVariety reads a model file.
func LoadVariety(path string) (*VarietyModel, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrModel, err)
	}
	m, err := DecodeVariety(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// DecodeVariety parses a model file's bytes. A truncated, corrupted or
// foreign file is an error naming what is wrong, never a model.
func DecodeVariety(b []byte) (*VarietyModel, error) {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrModel, fmt.Sprintf(format, a...))
	}
	if len(b) < 4+4+4+32 || string(b[:4]) != varietyMagic {
		return nil, bad("not a variety model file")
	}
	body, tail := b[:len(b)-32], b[len(b)-32:]
	if h := sha256.Sum256(body); !bytes.Equal(h[:], tail) {
		return nil, bad("checksum mismatch (file truncated or corrupted)")
	}
	r := bytes.NewReader(body[4:])
	le := binary.LittleEndian
	var ver, hl uint32
	if err := binary.Read(r, le, &ver); err != nil || ver != varietyVersion {
		return nil, bad("version %d, want %d", ver, varietyVersion)
	}
	if err := binary.Read(r, le, &hl); err != nil || int(hl) > r.Len() {
		return nil, bad("header length")
	}
	hj := make([]byte, hl)
	if _, err := io.ReadFull(r, hj); err != nil {
		return nil, bad("header: %v", err)
	}
	var h varietyHeader
	if err := json.Unmarshal(hj, &h); err != nil {
		return nil, bad("header: %v", err)
	}
	C := len(h.Labels)
	if C < 2 || C > 16 {
		return nil, bad("%d labels", C)
	}
	if h.Temperature <= 0 || math.IsNaN(h.Temperature) || math.IsInf(h.Temperature, 0) {
		return nil, bad("temperature %v", h.Temperature)
	}
	var nf uint32
	if err := binary.Read(r, le, &nf); err != nil || nf > maxVarietyFeat {
		return nil, bad("feature count")
	}
	m := &VarietyModel{Labels: h.Labels, Temperature: h.Temperature, Unsure: h.Unsure, Options: h.Options, Data: h.Data,
		w: make(map[string][]float32, nf), b: make([]float32, C)}
	readF := func(dst []float32) error {
		for i := range dst {
			var u uint32
			if err := binary.Read(r, le, &u); err != nil {
				return err
			}
			v := math.Float32frombits(u)
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return errors.New("weight not finite")
			}
			dst[i] = v
		}
		return nil
	}
	for i := uint32(0); i < nf; i++ {
		var kl uint16
		if err := binary.Read(r, le, &kl); err != nil || int(kl) > maxVarietyKey || int(kl) > r.Len() {
			return nil, bad("feature %d: key length", i)
		}
		k := make([]byte, kl)
		if _, err := io.ReadFull(r, k); err != nil {
			return nil, bad("feature %d: %v", i, err)
		}
		w := make([]float32, C)
		if err := readF(w); err != nil {
			return nil, bad("feature %d: %v", i, err)
		}
		m.w[string(k)] = w
	}
	if err := readF(m.b); err != nil {
		return nil, bad("biases: %v", err)
	}
	if r.Len() != 0 {
		return nil, bad("%d bytes after the biases", r.Len())
	}
	return m, nil
}

// shippedVariety is the model `callbrief models train` built from the
// shared corpora and the repository (see docs/understanding.md); the
// binary carries it so that the service runs the measured model without
// the shared data at hand.
//
//go:embed variety.cbvm
var shippedVariety []byte

// ShippedVariety decodes the model built into the binary.
func ShippedVariety() (*VarietyModel, error) {
	return DecodeVariety(shippedVariety)
}

// ServedVariety is the variety model the service runs: the file at path
// when one is given, else the model built into the binary, else (a binary
// built without one) a model trained now on the built-in corpora. Every
// evaluation of "the served model" goes through this constructor.
func ServedVariety(ctx context.Context, path string, log *slog.Logger) (*VarietyModel, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if path != "" {
		m, err := LoadVariety(path)
		if err != nil {
			return nil, err
		}
		log.Info("variety model loaded", "path", path, "features", m.NumFeatures())
		return m, nil
	}
	m, err := ShippedVariety()
	if err == nil {
		return m, nil
	}
	log.Warn("built-in variety model unusable, training one from the built-in text", "err", err)
	cs, err := LoadCorpora("")
	if err != nil {
		return nil, err
	}
	return BuildVariety(ctx, cs, DefaultVarietyOptions())
}
