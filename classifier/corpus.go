package classifier

import (
	"bufio"
	"bytes"
	_ "embed"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode"

	"github.com/callbrief/callbrief/call"
)

// VarietyExample is one sentence in a known Chinese variety.
type VarietyExample struct {
	Text    string
	Variety call.Language // cmn, yue, wuu or zh (another Chinese variety)
	Source  string        // corpus it came from
}

// ErrCorpus wraps problems reading a training corpus.
var ErrCorpus = errors.New("classifier: corpus")

//go:embed own.tsv
var ownTSV []byte

// Split says which part of a corpus to read. Held-out parts are chosen
// deterministically (whole files of HKCanCor, every fifth parallel
// sentence of Tatoeba, the lines marked test in our own file) so that no
// sentence, and no translation of a test sentence, is trained on.
type Split int

// Splits. SplitValidation is carved out of what was the training part
// (HKCanCor files and Tatoeba rows numbered 1 mod 5, one line in five of
// our own training lines) and calibrates the model; it is never trained on.
const (
	SplitTrain Split = iota
	SplitTest
	SplitValidation
)

// splitOf places item i of a corpus split one in five: 0 test, 1
// validation, the rest training.
func splitOf(i int) Split {
	switch i % 5 {
	case 0:
		return SplitTest
	case 1:
		return SplitValidation
	}
	return SplitTrain
}

// OwnCorpus returns the sentences we wrote (embedded).
func OwnCorpus(split Split) []VarietyExample {
	var out []VarietyExample
	n := 0
	sc := bufio.NewScanner(bytes.NewReader(ownTSV))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || strings.TrimSpace(line) == "" {
			continue
		}
		cols := strings.SplitN(line, "\t", 3)
		if len(cols) != 3 {
			continue
		}
		n++
		sp := SplitTest
		if cols[1] != "test" {
			sp = SplitTrain
			if n%5 == 1 {
				sp = SplitValidation
			}
		}
		if sp != split {
			continue
		}
		out = append(out, VarietyExample{Text: cols[2], Variety: call.Language(cols[0]), Source: "own"})
	}
	return out
}

// LoadTatoeba reads tatoeba-zh-varieties' parallel CSV: cmn, wuu, wen
// (Wenzhounese, served as "other Chinese": it is a Wu variety but not
// intelligible to Shanghainese speakers, so the Wu line cannot take it)
// and yue. Rows are split one in five (see splitOf).
func LoadTatoeba(dir string, split Split) ([]VarietyExample, error) {
	p := filepath.Join(dir, "cmn-yue-wuu-wen-parallel-simplified_final.csv")
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorpus, err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	r.LazyQuotes = true // some sentences carry a bare quote mark
	head, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrCorpus, p, err)
	}
	cols := map[string]int{}
	for i, h := range head {
		cols[strings.TrimSpace(h)] = i
	}
	varieties := []struct {
		col string
		v   call.Language
	}{{"cmn_sentence", call.LangMandarin}, {"wuu_sentence", call.LangWu}, {"wen_sentence", call.LangChinese}, {"yue_sentence", call.LangCantonese}}
	var out []VarietyExample
	for row := 0; ; row++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrCorpus, p, err)
		}
		if splitOf(row) != split {
			continue
		}
		for _, v := range varieties {
			i, ok := cols[v.col]
			if !ok || i >= len(rec) || strings.TrimSpace(rec[i]) == "" {
				continue
			}
			out = append(out, VarietyExample{Text: rec[i], Variety: v.v, Source: "tatoeba"})
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: %s: no sentences", ErrCorpus, p)
	}
	return out, nil
}

// LoadHKCanCor reads the CHAT (.cha) files of HKCanCor: every "*SPK:"
// utterance tier (with its tab-indented continuation lines), word
// segmentation spaces and punctuation removed. Utterances with fewer
// than minHan Chinese characters are dropped (fillers like "吓 ?" say
// nothing about the variety). Files are sorted by name and every fifth
// is the test split, the next the validation split; at most limit utterances are returned (0: all),
// spread over the files.
func LoadHKCanCor(dir string, split Split, minHan, limit int) ([]VarietyExample, error) {
	files, _ := filepath.Glob(filepath.Join(dir, "*.cha"))
	if len(files) == 0 {
		return nil, fmt.Errorf("%w: no .cha files in %s", ErrCorpus, dir)
	}
	sort.Strings(files)
	var per [][]VarietyExample
	for i, fn := range files {
		if splitOf(i) != split {
			continue
		}
		b, err := os.ReadFile(fn)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrCorpus, err)
		}
		var us []VarietyExample
		for _, u := range ParseCHAT(b) {
			if countHan(u) >= minHan {
				us = append(us, VarietyExample{Text: u, Variety: call.LangCantonese, Source: "hkcancor"})
			}
		}
		per = append(per, us)
	}
	// Round-robin over files so a limit keeps every speaker pair.
	var out []VarietyExample
	for k := 0; ; k++ {
		added := false
		for _, us := range per {
			if k < len(us) {
				out = append(out, us[k])
				added = true
				if limit > 0 && len(out) >= limit {
					return out, nil
				}
			}
		}
		if !added {
			break
		}
	}
	return out, nil
}

// ParseCHAT returns the utterance tiers of a CHAT transcript as plain text.
func ParseCHAT(b []byte) []string {
	var out []string
	var cur strings.Builder
	inUtt := false
	flush := func() {
		if inUtt {
			if s := cleanCHAT(cur.String()); s != "" {
				out = append(out, s)
			}
		}
		cur.Reset()
		inUtt = false
	}
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimRight(line, "\r")
		switch {
		case strings.HasPrefix(line, "*"):
			flush()
			if i := strings.IndexByte(line, ':'); i > 0 {
				inUtt = true
				cur.WriteString(line[i+1:])
			}
		case strings.HasPrefix(line, "\t") && inUtt:
			cur.WriteString(line)
		default:
			flush()
		}
	}
	flush()
	return out
}

// cleanCHAT drops spaces between segmented words and everything that is
// not a letter or digit (punctuation, CHAT markers).
func cleanCHAT(s string) string {
	var b strings.Builder
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func countHan(s string) int {
	n := 0
	for _, r := range s {
		if unicode.Is(unicode.Han, r) {
			n++
		}
	}
	return n
}
