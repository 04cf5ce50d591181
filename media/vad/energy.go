package vad

import (
	"fmt"
	"math"
)

// EnergyConfig tunes the energy detector.
type EnergyConfig struct {
	// MarginDB is how far above the tracked noise floor a chunk must be to
	// count as speech (default 12 dB).
	MarginDB float64
	// FloorDB is the lowest noise floor assumed, so digital silence does not
	// make every click speech (default -70 dBFS).
	FloorDB float64
}

// Energy is a fallback detector: the chunk's RMS level compared with a
// noise floor that follows the quietest recent audio. It is cheap and needs
// no model, but it cannot tell speech from loud noise.
type Energy struct {
	cfg   EnergyConfig
	noise float64 // tracked noise floor, dBFS
	init  bool
}

// NewEnergy returns an energy detector with 20 ms chunks.
func NewEnergy(cfg EnergyConfig) *Energy {
	if cfg.MarginDB == 0 {
		cfg.MarginDB = 12
	}
	if cfg.FloorDB == 0 {
		cfg.FloorDB = -70
	}
	return &Energy{cfg: cfg}
}

// Name implements Detector.
func (e *Energy) Name() string { return "energy" }

// ChunkSize implements Detector: 20 ms.
func (e *Energy) ChunkSize() int { return 320 }

// Reset implements Detector.
func (e *Energy) Reset() { e.init = false }

// Close implements Detector.
func (e *Energy) Close() error { return nil }

// Score implements Detector.
func (e *Energy) Score(chunk []float32) (float32, error) {
	if len(chunk) != e.ChunkSize() {
		return 0, fmt.Errorf("%w: got %d samples, want %d", ErrChunkSize, len(chunk), e.ChunkSize())
	}
	var sum float64
	for _, s := range chunk {
		sum += float64(s) * float64(s)
	}
	db := 10 * math.Log10(sum/float64(len(chunk))+1e-12)
	if !e.init {
		e.noise, e.init = math.Max(db, e.cfg.FloorDB), true
	}
	// The floor drops quickly to quieter audio and rises slowly, so that
	// a long utterance does not become the new "noise".
	if db < e.noise {
		e.noise = 0.7*e.noise + 0.3*db
	} else {
		e.noise = 0.998*e.noise + 0.002*db
	}
	e.noise = math.Max(e.noise, e.cfg.FloorDB)
	// A logistic curve 6 dB wide around the margin gives a probability the
	// endpointer can threshold like Silero's.
	x := (db - e.noise - e.cfg.MarginDB) / 3
	return float32(1 / (1 + math.Exp(-x))), nil
}
