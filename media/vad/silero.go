package vad

import (
	"errors"
	"fmt"
	"os"
	"sync"

	onnx "github.com/yalue/onnxruntime_go"

	"github.com/callbrief/callbrief/models/ort"
)

// Silero v5 geometry: 512 new samples per chunk at 16 kHz, with the last 64
// samples of the previous chunk prepended (as the reference implementation
// does), and a recurrent state of 2x1x128.
const (
	sileroChunk   = 512
	sileroContext = 64
	sileroState   = 2 * 128
)

// ErrModel means the Silero model could not be loaded.
var ErrModel = errors.New("vad: silero model unavailable")

// SileroModel is the loaded Silero VAD network. One model serves every call:
// ONNX Runtime sessions may be run concurrently, and each Detector keeps its
// own recurrent state.
type SileroModel struct {
	session *onnx.DynamicAdvancedSession
	mu      sync.Mutex
	closed  bool
}

// LoadSilero loads the model at modelPath on the ONNX Runtime library at
// runtimePath. threads bounds the intra-op threads of the session; 1 is
// right for a VAD (its chunks are tiny and there are many calls).
func LoadSilero(runtimePath, modelPath string, threads int) (*SileroModel, error) {
	if err := ort.Init(runtimePath); err != nil {
		return nil, err
	}
	if _, err := os.Stat(modelPath); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrModel, modelPath, err)
	}
	opts, err := onnx.NewSessionOptions()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrModel, err)
	}
	defer opts.Destroy()
	if threads < 1 {
		threads = 1
	}
	if err := opts.SetIntraOpNumThreads(threads); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrModel, err)
	}
	if err := opts.SetInterOpNumThreads(1); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrModel, err)
	}
	s, err := onnx.NewDynamicAdvancedSession(modelPath,
		[]string{"input", "state", "sr"}, []string{"output", "stateN"}, opts)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrModel, modelPath, err)
	}
	return &SileroModel{session: s}, nil
}

// Close frees the session. Detectors made from it must be closed first.
func (m *SileroModel) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil
	}
	m.closed = true
	return m.session.Destroy()
}

// Silero is one stream's detector on a SileroModel.
type Silero struct {
	model  *SileroModel
	input  *onnx.Tensor[float32]
	state  *onnx.Tensor[float32]
	sr     *onnx.Scalar[int64]
	output *onnx.Tensor[float32]
	stateN *onnx.Tensor[float32]
	closed bool
}

// NewDetector makes a detector with fresh state. Its tensors are allocated
// once and reused for every chunk, so Score does not allocate.
func (m *SileroModel) NewDetector() (*Silero, error) {
	d := &Silero{model: m}
	var err error
	if d.input, err = onnx.NewEmptyTensor[float32](onnx.NewShape(1, sileroContext+sileroChunk)); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrModel, err)
	}
	if d.state, err = onnx.NewEmptyTensor[float32](onnx.NewShape(2, 1, 128)); err != nil {
		d.Close()
		return nil, fmt.Errorf("%w: %w", ErrModel, err)
	}
	if d.sr, err = onnx.NewScalar[int64](SampleRate); err != nil {
		d.Close()
		return nil, fmt.Errorf("%w: %w", ErrModel, err)
	}
	if d.output, err = onnx.NewEmptyTensor[float32](onnx.NewShape(1, 1)); err != nil {
		d.Close()
		return nil, fmt.Errorf("%w: %w", ErrModel, err)
	}
	if d.stateN, err = onnx.NewEmptyTensor[float32](onnx.NewShape(2, 1, 128)); err != nil {
		d.Close()
		return nil, fmt.Errorf("%w: %w", ErrModel, err)
	}
	return d, nil
}

// Name implements Detector.
func (d *Silero) Name() string { return "silero-v5" }

// ChunkSize implements Detector: 512 samples (32 ms).
func (d *Silero) ChunkSize() int { return sileroChunk }

// Reset implements Detector.
func (d *Silero) Reset() {
	if d.closed {
		return
	}
	d.input.ZeroContents()
	d.state.ZeroContents()
}

// Score implements Detector.
func (d *Silero) Score(chunk []float32) (float32, error) {
	if d.closed {
		return 0, ErrClosed
	}
	if len(chunk) != sileroChunk {
		return 0, fmt.Errorf("%w: got %d samples, want %d", ErrChunkSize, len(chunk), sileroChunk)
	}
	in := d.input.GetData()
	// Keep the last 64 samples of the previous chunk as context.
	copy(in[:sileroContext], in[sileroChunk:])
	copy(in[sileroContext:], chunk)
	if err := d.model.session.Run(
		[]onnx.Value{d.input, d.state, d.sr},
		[]onnx.Value{d.output, d.stateN}); err != nil {
		return 0, fmt.Errorf("vad: silero run: %w", err)
	}
	copy(d.state.GetData(), d.stateN.GetData())
	return d.output.GetData()[0], nil
}

// Close implements Detector.
func (d *Silero) Close() error {
	if d.closed {
		return nil
	}
	d.closed = true
	for _, v := range []interface{ Destroy() error }{d.input, d.state, d.sr, d.output, d.stateN} {
		if v != nil && !isNil(v) {
			v.Destroy()
		}
	}
	return nil
}

func isNil(v interface{ Destroy() error }) bool {
	switch t := v.(type) {
	case *onnx.Tensor[float32]:
		return t == nil
	case *onnx.Scalar[int64]:
		return t == nil
	}
	return false
}
