// Package dense puts sentence embeddings to work for intents: a linear
// head over an embedding (softmax regression trained in Go) and a store
// that keeps the embeddings of training and evaluation texts on disk, so
// that a model can be retrained or a dataset re-scored without paying the
// embedder again.
package dense

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sync"
	"syscall"
)

// Embed embeds texts as queries (e5's "query: " side, which is also the
// side the model was trained to use for classification).
type Embed func(ctx context.Context, texts []string) ([][]float32, error)

// ErrStore means the embedding store file is unreadable or of another
// model or dimension.
var ErrStore = errors.New("dense: embedding store")

// Store is an append-only file of text embeddings keyed by the SHA-256 of
// model name and text. It is safe for concurrent use.
type Store struct {
	mu    sync.Mutex
	path  string
	model string
	dim   int
	vecs  map[[32]byte][]float32
}

const storeMagic = "CBEMB1\n"

// OpenStore reads the store at path (creating nothing until something is
// added). Records of a torn final write are ignored.
func OpenStore(path, model string, dim int) (*Store, error) {
	s := &Store{path: path, model: model, dim: dim, vecs: map[[32]byte][]float32{}}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrStore, err)
	}
	defer f.Close()
	r := bufio.NewReader(f)
	head := make([]byte, len(storeMagic)+4)
	if _, err := io.ReadFull(r, head); errors.Is(err, io.EOF) {
		// Empty: another process has just created it and holds the lock
		// for its first write (add writes the header with the records).
		return s, nil
	} else if err != nil {
		return nil, fmt.Errorf("%w: %s: short header", ErrStore, path)
	}
	if string(head[:len(storeMagic)]) != storeMagic || int(binary.LittleEndian.Uint32(head[len(storeMagic):])) != dim {
		return nil, fmt.Errorf("%w: %s is not a store of %d-dimensional embeddings", ErrStore, path, dim)
	}
	rec := make([]byte, 32+4*dim)
	for {
		if _, err := io.ReadFull(r, rec); err != nil {
			break // end, or a torn last record
		}
		var k [32]byte
		copy(k[:], rec[:32])
		v := make([]float32, dim)
		for i := range v {
			v[i] = math.Float32frombits(binary.LittleEndian.Uint32(rec[32+4*i:]))
		}
		s.vecs[k] = v
	}
	return s, nil
}

func (s *Store) key(text string) [32]byte {
	h := sha256.New()
	h.Write([]byte(s.model))
	h.Write([]byte{0})
	h.Write([]byte(text))
	var k [32]byte
	copy(k[:], h.Sum(nil))
	return k
}

// Len is how many embeddings the store holds.
func (s *Store) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.vecs)
}

// Get returns the stored embedding of text.
func (s *Store) Get(text string) ([]float32, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.vecs[s.key(text)]
	return v, ok
}

// Embeddings returns the embedding of every text, embedding (in batches of
// batch, and appending to the file) those the store lacks. progress, when
// set, is told how many are done of how many were missing.
func (s *Store) Embeddings(ctx context.Context, texts []string, embed Embed, batch int, progress func(done, total int)) ([][]float32, error) {
	out := make([][]float32, len(texts))
	var missing []int
	seen := map[string]bool{}
	for i, t := range texts {
		if v, ok := s.Get(t); ok {
			out[i] = v
		} else if !seen[t] {
			seen[t] = true
			missing = append(missing, i)
		}
	}
	if batch <= 0 {
		batch = 32
	}
	for start := 0; start < len(missing); start += batch {
		end := min(len(missing), start+batch)
		chunk := make([]string, 0, end-start)
		for _, i := range missing[start:end] {
			chunk = append(chunk, texts[i])
		}
		vs, err := embed(ctx, chunk)
		if err != nil {
			return nil, err
		}
		if len(vs) != len(chunk) {
			return nil, fmt.Errorf("%w: embedder returned %d vectors for %d texts", ErrStore, len(vs), len(chunk))
		}
		if err := s.add(chunk, vs); err != nil {
			return nil, err
		}
		if progress != nil {
			progress(end, len(missing))
		}
	}
	for i, t := range texts {
		if out[i] == nil {
			v, ok := s.Get(t)
			if !ok {
				return nil, fmt.Errorf("%w: no embedding for a text after embedding it", ErrStore)
			}
			out[i] = v
		}
	}
	return out, nil
}

func (s *Store) add(texts []string, vs [][]float32) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, t := range texts {
		if len(vs[i]) != s.dim {
			return fmt.Errorf("%w: embedding of dimension %d, store holds %d", ErrStore, len(vs[i]), s.dim)
		}
		s.vecs[s.key(t)] = append([]float32(nil), vs[i]...)
	}
	if s.path == "" {
		return nil
	}
	f, err := os.OpenFile(s.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrStore, err)
	}
	defer f.Close()
	// Several processes share a cache (two nodes on one machine, tests in
	// parallel): an exclusive lock and one write per batch, so that their
	// records never interleave and only one of them writes the header.
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("%w: lock %s: %w", ErrStore, s.path, err)
	}
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("%w: %w", ErrStore, err)
	}
	// A write torn by a crash leaves part of a record at the end; cut it
	// off, or every record after it would be read out of step.
	head, rec := int64(len(storeMagic)+4), int64(32+4*s.dim)
	if size := st.Size(); size > head && (size-head)%rec != 0 {
		if err := f.Truncate(size - (size-head)%rec); err != nil {
			return fmt.Errorf("%w: %w", ErrStore, err)
		}
	} else if size > 0 && size < head {
		if err := f.Truncate(0); err != nil {
			return fmt.Errorf("%w: %w", ErrStore, err)
		}
		st = nil
	}
	var b bytes.Buffer
	b.Grow(len(storeMagic) + 4 + len(texts)*(32+4*s.dim))
	if st == nil || st.Size() == 0 {
		b.WriteString(storeMagic)
		binary.Write(&b, binary.LittleEndian, uint32(s.dim))
	}
	buf := make([]byte, 4)
	for i, t := range texts {
		k := s.key(t)
		b.Write(k[:])
		for _, x := range vs[i] {
			binary.LittleEndian.PutUint32(buf, math.Float32bits(x))
			b.Write(buf)
		}
	}
	if _, err := f.Write(b.Bytes()); err != nil {
		return fmt.Errorf("%w: %w", ErrStore, err)
	}
	return f.Close()
}
