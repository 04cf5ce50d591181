package memindex

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"path/filepath"

	"github.com/callbrief/callbrief/handoff/kb"
)

// File layout (little-endian):
//
//	magic "CBKBIDX1" | uint32 dim | uint32 n | uint64 meta length |
//	meta JSON {chunks, sparse} | n*dim float32 | uint32 CRC-32C of all before
//
// The int8 copy is rebuilt at load rather than stored, so the file holds
// only the exact vectors and the quantisation can change without a
// migration.
const magic = "CBKBIDX1"

var crcTable = crc32.MakeTable(crc32.Castagnoli)

type meta struct {
	Chunks []kb.Chunk        `json:"chunks"`
	Sparse []kb.SparseVector `json:"sparse"`
}

// saveLocked writes the index to a temporary file in the same folder,
// syncs it and renames it over Path, so a crash leaves either the old
// index or the new one, never a torn file. Callers hold the write lock.
func (ix *Index) saveLocked() error {
	if ix.opts.Path == "" {
		return nil
	}
	dir := filepath.Dir(ix.opts.Path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("%w: %w", kb.ErrIndex, err)
	}
	tmp, err := os.CreateTemp(dir, filepath.Base(ix.opts.Path)+".tmp*")
	if err != nil {
		return fmt.Errorf("%w: %w", kb.ErrIndex, err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if err := ix.writeTo(tmp); err != nil {
		tmp.Close()
		return fmt.Errorf("%w: write %s: %w", kb.ErrIndex, ix.opts.Path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("%w: %w", kb.ErrIndex, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("%w: %w", kb.ErrIndex, err)
	}
	if err := os.Rename(tmp.Name(), ix.opts.Path); err != nil {
		return fmt.Errorf("%w: %w", kb.ErrIndex, err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync() // make the rename itself durable where the OS allows
		d.Close()
	}
	return nil
}

func (ix *Index) writeTo(w io.Writer) error {
	h := crc32.New(crcTable)
	bw := bufio.NewWriterSize(io.MultiWriter(w, h), 1<<20)
	m, err := json.Marshal(meta{Chunks: ix.chunks, Sparse: ix.sparse})
	if err != nil {
		return err
	}
	var hdr [8 + 4 + 4 + 8]byte
	copy(hdr[:8], magic)
	binary.LittleEndian.PutUint32(hdr[8:], uint32(ix.opts.Dim))
	binary.LittleEndian.PutUint32(hdr[12:], uint32(len(ix.chunks)))
	binary.LittleEndian.PutUint64(hdr[16:], uint64(len(m)))
	bw.Write(hdr[:])
	bw.Write(m)
	var b [4]byte
	for _, x := range ix.vecs {
		binary.LittleEndian.PutUint32(b[:], math.Float32bits(x))
		bw.Write(b[:])
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	binary.LittleEndian.PutUint32(b[:], h.Sum32())
	_, err = w.Write(b[:])
	return err
}

// load reads Path into an empty index; false when there is no file yet.
func (ix *Index) load() (bool, error) {
	f, err := os.Open(ix.opts.Path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("%w: %w", kb.ErrIndex, err)
	}
	defer f.Close()
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s is not a valid index file (%s); delete it and ingest again", kb.ErrIndex, ix.opts.Path, fmt.Sprintf(format, a...))
	}
	h := crc32.New(crcTable)
	br := bufio.NewReaderSize(f, 1<<20)
	r := io.TeeReader(br, h) // hash exactly what is consumed, not what is buffered
	var hdr [24]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil || string(hdr[:8]) != magic {
		return false, bad("bad header")
	}
	dim := int(binary.LittleEndian.Uint32(hdr[8:]))
	n := int(binary.LittleEndian.Uint32(hdr[12:]))
	mlen := binary.LittleEndian.Uint64(hdr[16:])
	st, _ := f.Stat()
	if dim <= 0 || dim > 1<<16 || mlen > uint64(st.Size()) || int64(n)*int64(dim)*4 > st.Size() {
		return false, bad("sizes do not fit the file")
	}
	if ix.opts.Dim > 0 && ix.opts.Dim != dim {
		return false, fmt.Errorf("%w: %s holds %d-dimensional vectors, the embedder makes %d: ingest again", kb.ErrDimension, ix.opts.Path, dim, ix.opts.Dim)
	}
	mb := make([]byte, mlen)
	if _, err := io.ReadFull(r, mb); err != nil {
		return false, bad("truncated metadata")
	}
	var m meta
	if err := json.Unmarshal(mb, &m); err != nil || len(m.Chunks) != n || len(m.Sparse) != n {
		return false, bad("metadata does not match the header")
	}
	vecs := make([]float32, n*dim)
	buf := make([]byte, 4*dim)
	for row := 0; row < n; row++ {
		if _, err := io.ReadFull(r, buf); err != nil {
			return false, bad("truncated vectors")
		}
		for i := range dim {
			vecs[row*dim+i] = math.Float32frombits(binary.LittleEndian.Uint32(buf[4*i:]))
		}
	}
	sum := h.Sum32()
	var tail [4]byte
	if _, err := io.ReadFull(br, tail[:]); err != nil || binary.LittleEndian.Uint32(tail[:]) != sum {
		return false, bad("checksum mismatch")
	}
	ix.opts.Dim = dim
	for row := range n {
		ix.appendRecordLocked(row, kb.Record{Chunk: m.Chunks[row], Dense: vecs[row*dim : (row+1)*dim], Sparse: m.Sparse[row]})
	}
	ix.rebuildDerived()
	return true, nil
}
