package loadgen

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/callbrief/callbrief/evals"
	"github.com/callbrief/callbrief/media"
)

// Recording is one real recorded opening turn, as calls place it.
type Recording struct {
	Name string
	// PCM is the audio at 16 kHz mono (the live caller speaks it), WAV
	// the same as a 16-bit WAV file (the upload's body).
	PCM []int16
	WAV []byte
	// Caller is the number presented (empty: withheld); Answers the keyed
	// answers to verification questions, from a scenario.
	Caller  string
	Answers []string
}

// LoadRecordings reads each source: a served scenario file (.yaml: its
// scenarios with a recording; synthetic ones are skipped, the load is of
// real speech), a WAV file, or a folder (its .wav files). A source that
// yields nothing is an error naming it.
func LoadRecordings(sources []string) ([]Recording, error) {
	var out []Recording
	for _, src := range sources {
		n := len(out)
		st, err := os.Stat(src)
		if err != nil {
			return nil, fmt.Errorf("%w: recordings %s: %w", ErrPlan, src, err)
		}
		switch {
		case st.IsDir():
			names, err := filepath.Glob(filepath.Join(src, "*.wav"))
			if err != nil {
				return nil, err
			}
			sort.Strings(names)
			for _, p := range names {
				r, err := readRecording(p, filepath.Base(p))
				if err != nil {
					return nil, err
				}
				out = append(out, r)
			}
		case strings.HasSuffix(src, ".yaml") || strings.HasSuffix(src, ".yml"):
			scs, err := evals.LoadScenarios(src)
			if err != nil {
				return nil, fmt.Errorf("%w: %w", ErrPlan, err)
			}
			for _, sc := range scs {
				p := sc.AudioPath()
				if p == "" {
					continue
				}
				r, err := readRecording(p, sc.ID)
				if err != nil {
					return nil, err
				}
				r.Caller = sc.Caller
				for _, t := range sc.Turns[1:] {
					if t.DTMF == "" {
						break // answers after a silent or spoken turn are not keyed
					}
					r.Answers = append(r.Answers, t.DTMF)
				}
				out = append(out, r)
			}
		default:
			r, err := readRecording(src, filepath.Base(src))
			if err != nil {
				return nil, err
			}
			out = append(out, r)
		}
		if len(out) == n {
			return nil, fmt.Errorf("%w: recordings %s: no recorded call in it", ErrPlan, src)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no recordings given", ErrPlan)
	}
	return out, nil
}

func readRecording(path, name string) (Recording, error) {
	f, err := os.Open(path)
	if err != nil {
		return Recording{}, fmt.Errorf("%w: recording %s: %w", ErrPlan, path, err)
	}
	defer f.Close()
	a, err := media.ReadWAV(f)
	if err != nil {
		return Recording{}, fmt.Errorf("%w: recording %s: %w", ErrPlan, path, err)
	}
	pcm, err := a.PCM16(16000)
	if err != nil {
		return Recording{}, fmt.Errorf("%w: recording %s: %w", ErrPlan, path, err)
	}
	return Recording{Name: name, PCM: pcm, WAV: evals.WAVBytes(pcm)}, nil
}
