package sphinx

/*
#cgo pkg-config: pocketsphinx sphinxbase
#include <stdlib.h>
#include "shim.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// logSink receives sphinxbase's warnings and errors. sphinxbase's log is
// process-wide, so it goes to the logger of the most recent New.
var (
	logSink    atomic.Pointer[slog.Logger]
	logInstall sync.Once
)

//export callbriefSphinxLog
func callbriefSphinxLog(level C.int, msg *C.char) {
	l := logSink.Load()
	if l == nil {
		return
	}
	text := strings.TrimSpace(C.GoString(msg))
	if text == "" {
		return
	}
	// Levels from sphinxbase/err.h: 3 WARN, 4 ERROR, 5 FATAL. Warnings are
	// debug noise; errors explain a failed decoder, except the routine
	// report of a grammar search that ended off a final state (a caller
	// who stopped mid-answer).
	switch {
	case strings.Contains(text, "does not match the grammar"):
		l.Debug("pocketsphinx", "detail", text)
	case level >= 5:
		l.Error("pocketsphinx", "detail", text)
	case level == 4:
		l.Warn("pocketsphinx", "detail", text)
	default:
		l.Debug("pocketsphinx", "detail", text)
	}
}

func installLogging(l *slog.Logger) {
	logSink.Store(l)
	logInstall.Do(func() { C.cb_install_logging() })
}

// decoderSpec says how to build a decoder.
type decoderSpec struct {
	hmm  string
	dict string // empty for grammar decoders, which start with no words
	// args are further decoder arguments as name, value pairs
	// ("-lm", path, "-wip", "1e-4").
	args []string
	// words are added to the empty dictionary of a grammar decoder
	// (loading the 130k-word dictionary is most of a decoder's creation
	// time, and the grammars need a dozen words).
	words []dictEntry
	jsgf  string // JSGF grammar text; empty for LM decoders
}

// decoder owns one ps_decoder_t. It is not safe for concurrent use: the
// pool hands it to one stream at a time.
type decoder struct {
	ps     *C.ps_decoder_t
	config *C.cmd_ln_t
	frame  time.Duration // duration of one feature frame (10 ms at -frate 100)
	// posteriors is whether word posteriors are computed: the n-gram
	// search's bestpath pass gives them; the grammar search reports 1.
	posteriors bool
	inUtt      bool
	poisoned   bool // a call failed; free instead of reusing
}

// errDecoder is wrapped by errors from pocketsphinx calls.
var errDecoder = errors.New("sphinx: decoder error")

const grammarSearch = "grammar"

func newDecoder(spec decoderSpec) (*decoder, error) {
	dictPath := spec.dict
	if dictPath == "" {
		dictPath = "/dev/null"
	}
	hmm, dict := C.CString(spec.hmm), C.CString(dictPath)
	config := C.cb_config(hmm, dict)
	C.free(unsafe.Pointer(hmm))
	C.free(unsafe.Pointer(dict))
	if config == nil {
		return nil, fmt.Errorf("%w: invalid decoder configuration", errDecoder)
	}
	for i := 0; i+1 < len(spec.args); i += 2 {
		name, value := C.CString(spec.args[i]), C.CString(spec.args[i+1])
		rv := C.cb_config_set(config, name, value)
		C.free(unsafe.Pointer(name))
		C.free(unsafe.Pointer(value))
		if rv < 0 {
			C.cmd_ln_free_r(config)
			return nil, fmt.Errorf("%w: invalid decoder argument %s %s", errDecoder, spec.args[i], spec.args[i+1])
		}
	}
	ps := C.ps_init(config)
	if ps == nil {
		C.cmd_ln_free_r(config)
		return nil, fmt.Errorf("%w: ps_init failed for model %s (see debug log)", errDecoder, spec.hmm)
	}
	d := &decoder{ps: ps, config: config, posteriors: spec.jsgf == ""}
	frate := int(C.cb_frate(ps))
	if frate <= 0 {
		frate = 100
	}
	d.frame = time.Second / time.Duration(frate)
	if spec.jsgf != "" {
		if err := d.setGrammar(spec.words, spec.jsgf); err != nil {
			d.free()
			return nil, err
		}
	}
	return d, nil
}

func (d *decoder) setGrammar(words []dictEntry, jsgf string) error {
	for i, w := range words {
		cw, cp := C.CString(w.word), C.CString(w.phones)
		update := C.int(0)
		if i == len(words)-1 {
			update = 1
		}
		rv := C.ps_add_word(d.ps, cw, cp, update)
		C.free(unsafe.Pointer(cw))
		C.free(unsafe.Pointer(cp))
		if rv < 0 {
			return fmt.Errorf("%w: cannot add word %q /%s/", errDecoder, w.word, w.phones)
		}
	}
	name, text := C.CString(grammarSearch), C.CString(jsgf)
	defer C.free(unsafe.Pointer(name))
	defer C.free(unsafe.Pointer(text))
	if C.ps_set_jsgf_string(d.ps, name, text) < 0 {
		return fmt.Errorf("%w: cannot compile grammar", errDecoder)
	}
	if C.ps_set_search(d.ps, name) < 0 {
		return fmt.Errorf("%w: cannot select grammar search", errDecoder)
	}
	return nil
}

// startUtt starts an utterance. It restarts the stream first: pocketsphinx
// counts segment frames from the start of the stream, and a restart makes
// them count from the start of this utterance.
func (d *decoder) startUtt() error {
	if C.ps_start_stream(d.ps) < 0 || C.ps_start_utt(d.ps) < 0 {
		d.poisoned = true
		return fmt.Errorf("%w: ps_start_utt failed", errDecoder)
	}
	d.inUtt = true
	return nil
}

// process feeds samples to the current utterance. pocketsphinx copies what
// it needs before returning, so passing Go memory is safe.
func (d *decoder) process(samples []int16) error {
	if len(samples) == 0 {
		return nil
	}
	rv := C.ps_process_raw(d.ps, (*C.int16)(unsafe.Pointer(&samples[0])), C.size_t(len(samples)), 0, 0)
	if rv < 0 {
		d.poisoned = true
		return fmt.Errorf("%w: ps_process_raw failed", errDecoder)
	}
	return nil
}

// hyp returns the current (partial or final) hypothesis as pocketsphinx
// spells it, or "".
func (d *decoder) hyp() string {
	var score C.int32
	h := C.ps_get_hyp(d.ps, &score)
	if h == nil {
		return ""
	}
	return C.GoString(h)
}

func (d *decoder) endUtt() error {
	d.inUtt = false
	if C.ps_end_utt(d.ps) < 0 {
		d.poisoned = true
		return fmt.Errorf("%w: ps_end_utt failed", errDecoder)
	}
	return nil
}

// rawWord is one entry of the best path, fillers included.
type rawWord struct {
	word       string
	sf, ef     int // inclusive frame indices within the utterance
	confidence float64
}

// words returns the best path of the finished utterance. Call hyp first:
// it runs the bestpath search that gives the words their posteriors.
func (d *decoder) words() []rawWord {
	var out []rawWord
	for seg := C.ps_seg_iter(d.ps); seg != nil; seg = C.ps_seg_next(seg) {
		// ps_seg_next frees the iterator when it returns NULL.
		var sf, ef C.int
		var ascr, lscr, lback C.int32
		C.ps_seg_frames(seg, &sf, &ef)
		lp := C.ps_seg_prob(seg, &ascr, &lscr, &lback)
		out = append(out, rawWord{
			word:       C.GoString(C.ps_seg_word(seg)),
			sf:         int(sf),
			ef:         int(ef),
			confidence: float64(C.cb_prob(d.ps, lp)),
		})
	}
	return out
}

// prob is the posterior probability of the final hypothesis.
func (d *decoder) prob() float64 { return float64(C.cb_prob(d.ps, C.ps_get_prob(d.ps))) }

// cmn returns the live cepstral mean: the decoder's estimate of the
// channel, adapted over the utterances it decoded.
func (d *decoder) cmn() []float32 {
	n := int(C.cb_cmn_len(d.ps))
	if n <= 0 {
		return nil
	}
	v := make([]float32, n)
	C.cb_cmn_get(d.ps, (*C.float)(unsafe.Pointer(&v[0])))
	return v
}

// setCMN replaces the live cepstral mean.
func (d *decoder) setCMN(v []float32) {
	if len(v) == 0 || len(v) != int(C.cb_cmn_len(d.ps)) {
		return
	}
	C.cb_cmn_set(d.ps, (*C.float)(unsafe.Pointer(&v[0])))
}

// reset ends an unfinished utterance so the decoder can be reused.
func (d *decoder) reset() {
	if d.inUtt {
		_ = d.endUtt()
	}
}

func (d *decoder) free() {
	if d.ps != nil {
		C.ps_free(d.ps)
		d.ps = nil
	}
	if d.config != nil {
		C.cmd_ln_free_r(d.config)
		d.config = nil
	}
}
