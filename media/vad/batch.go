package vad

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	onnx "github.com/yalue/onnxruntime_go"
)

// Batcher scores the chunks of many streams in one run of the Silero
// model. Each run has a fixed cost besides the work per stream, and a
// server with hundreds of calls has many chunks ready at the same moment:
// one run for sixteen streams costs about half as much per stream as
// sixteen runs (57 against 109 us on this project's machine). It also
// keeps the number of threads inside ONNX Runtime at the number of workers,
// which spares the Go scheduler the churn of many long cgo calls at once.
//
// A batch is whatever is waiting when a worker is free: nothing waits to
// fill one, so a lone stream is scored at once, as by Silero.Score.
type Batcher struct {
	model    *SileroModel
	reqs     chan *batchReq
	maxBatch int
	wg       sync.WaitGroup

	mu     sync.RWMutex // read-held while sending, so that Close cannot close reqs under a sender
	closed bool

	runs, chunks atomic.Uint64
}

// batchReq is one stream's chunk on its way through a batch.
type batchReq struct {
	input []float32 // context + chunk
	state []float32 // the stream's recurrent state, updated in place
	prob  float32
	err   error
	done  chan struct{} // a token when scored (capacity 1, reused)
}

// ErrBatcherClosed is returned by detectors of a closed Batcher.
var ErrBatcherClosed = errors.New("vad: batcher closed")

// NewBatcher starts workers (at least one; the number of cores is right)
// running batches of up to maxBatch streams (64 when 0 or less).
func (m *SileroModel) NewBatcher(workers, maxBatch int) *Batcher {
	if workers < 1 {
		workers = 1
	}
	if maxBatch <= 0 {
		maxBatch = 64
	}
	b := &Batcher{model: m, reqs: make(chan *batchReq, maxBatch*workers), maxBatch: maxBatch}
	for range workers {
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			b.work()
		}()
	}
	return b
}

// Close stops the workers once the chunks already submitted are scored.
// Detectors must not score after Close (they get ErrBatcherClosed).
func (b *Batcher) Close() {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return
	}
	b.closed = true
	close(b.reqs)
	b.mu.Unlock()
	b.wg.Wait()
}

// Stats returns the runs made and the chunks scored: their ratio is the
// mean batch size.
func (b *Batcher) Stats() (runs, chunks uint64) { return b.runs.Load(), b.chunks.Load() }

// tensors are one batch size's inputs and outputs, reused across runs.
type tensors struct {
	input, state, output, stateN *onnx.Tensor[float32]
	sr                           *onnx.Scalar[int64]
}

func newTensors(n int) (*tensors, error) {
	t := &tensors{}
	var err error
	defer func() {
		if err != nil {
			t.destroy()
		}
	}()
	if t.input, err = onnx.NewEmptyTensor[float32](onnx.NewShape(int64(n), sileroContext+sileroChunk)); err != nil {
		return nil, err
	}
	if t.state, err = onnx.NewEmptyTensor[float32](onnx.NewShape(2, int64(n), 128)); err != nil {
		return nil, err
	}
	if t.output, err = onnx.NewEmptyTensor[float32](onnx.NewShape(int64(n), 1)); err != nil {
		return nil, err
	}
	if t.stateN, err = onnx.NewEmptyTensor[float32](onnx.NewShape(2, int64(n), 128)); err != nil {
		return nil, err
	}
	if t.sr, err = onnx.NewScalar[int64](SampleRate); err != nil {
		return nil, err
	}
	return t, nil
}

func (t *tensors) destroy() {
	for _, v := range []interface{ Destroy() error }{t.input, t.state, t.output, t.stateN, t.sr} {
		if v != nil && !isNil(v) {
			v.Destroy()
		}
	}
}

// work takes a request, then whatever else is already waiting, and scores
// them in one run.
func (b *Batcher) work() {
	bySize := map[int]*tensors{}
	defer func() {
		for _, t := range bySize {
			t.destroy()
		}
	}()
	batch := make([]*batchReq, 0, b.maxBatch)
	for first := range b.reqs {
		batch = append(batch[:0], first)
	fill:
		for len(batch) < b.maxBatch {
			select {
			case r, ok := <-b.reqs:
				if !ok {
					break fill
				}
				batch = append(batch, r)
			default:
				break fill
			}
		}
		t := bySize[len(batch)]
		var err error
		if t == nil {
			if t, err = newTensors(len(batch)); err == nil {
				bySize[len(batch)] = t
			}
		}
		if err == nil {
			err = b.run(t, batch)
		}
		b.runs.Add(1)
		b.chunks.Add(uint64(len(batch)))
		for _, r := range batch {
			if err != nil {
				r.err = fmt.Errorf("vad: silero batch of %d: %w", len(batch), err)
			}
			r.done <- struct{}{}
		}
	}
}

// run scores a batch: rows of the input and, for the state [2, n, 128],
// each stream's two layers at rows i and n+i.
func (b *Batcher) run(t *tensors, batch []*batchReq) error {
	n := len(batch)
	in, st := t.input.GetData(), t.state.GetData()
	width := sileroContext + sileroChunk
	for i, r := range batch {
		copy(in[i*width:(i+1)*width], r.input)
		copy(st[i*128:(i+1)*128], r.state[:128])
		copy(st[(n+i)*128:(n+i+1)*128], r.state[128:])
	}
	if err := b.model.session.Run([]onnx.Value{t.input, t.state, t.sr}, []onnx.Value{t.output, t.stateN}); err != nil {
		return err
	}
	out, stN := t.output.GetData(), t.stateN.GetData()
	for i, r := range batch {
		r.prob = out[i]
		copy(r.state[:128], stN[i*128:(i+1)*128])
		copy(r.state[128:], stN[(n+i)*128:(n+i+1)*128])
	}
	return nil
}

// BatchedSilero is one stream's detector scored through a Batcher. Like
// Silero, it is for one goroutine; Score blocks until its batch has run.
type BatchedSilero struct {
	b   *Batcher
	req batchReq
}

// NewDetector makes a detector with fresh state.
func (b *Batcher) NewDetector() *BatchedSilero {
	return &BatchedSilero{b: b, req: batchReq{input: make([]float32, sileroContext+sileroChunk), state: make([]float32, 256),
		done: make(chan struct{}, 1)}}
}

// Name implements Detector.
func (d *BatchedSilero) Name() string { return "silero-v5" }

// ChunkSize implements Detector: 512 samples (32 ms).
func (d *BatchedSilero) ChunkSize() int { return sileroChunk }

// Reset implements Detector.
func (d *BatchedSilero) Reset() {
	clear(d.req.input)
	clear(d.req.state)
}

// Score implements Detector.
func (d *BatchedSilero) Score(chunk []float32) (float32, error) {
	if len(chunk) != sileroChunk {
		return 0, fmt.Errorf("%w: got %d samples, want %d", ErrChunkSize, len(chunk), sileroChunk)
	}
	// Keep the last 64 samples of the previous chunk as context.
	copy(d.req.input[:sileroContext], d.req.input[sileroChunk:])
	copy(d.req.input[sileroContext:], chunk)
	d.req.err = nil
	d.b.mu.RLock()
	if d.b.closed {
		d.b.mu.RUnlock()
		return 0, ErrBatcherClosed
	}
	d.b.reqs <- &d.req
	d.b.mu.RUnlock()
	<-d.req.done
	return d.req.prob, d.req.err
}

// Close implements Detector; the Batcher is closed by its owner.
func (d *BatchedSilero) Close() error { return nil }
