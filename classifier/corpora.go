package classifier

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/callbrief/callbrief/call"
	"github.com/callbrief/callbrief/data/taxonomy"
)

// Corpus is one source of labelled variety text, split three ways. Cross-
// corpus evaluation trains on some corpora and tests on all of another:
// a figure from a split of the training source alone says how well a model
// learnt that source's phrasing, not how it will do on a caller's.
type Corpus struct {
	Name                    string
	Train, Validation, Test []VarietyExample
	// SHA256 identifies the data read (see DataSource).
	SHA256 string
}

// All returns every sentence of the corpus.
func (c Corpus) All() []VarietyExample {
	out := append([]VarietyExample(nil), c.Train...)
	out = append(out, c.Validation...)
	return append(out, c.Test...)
}

// Corpus names.
const (
	CorpusTaxonomy = "taxonomy" // the hotline's utterances (cmn, yue)
	CorpusOwn      = "own"      // sentences written for the hotline (mostly wuu)
	CorpusHKCanCor = "hkcancor" // spoken Hong Kong Cantonese
	CorpusTatoeba  = "tatoeba"  // parallel cmn, wuu, wen (zh), yue
	CorpusSpeechZH = "speech-zh"
)

// LoadCorpora reads the built-in corpora and, when root is not empty, the
// shared ones under it (hkcancor/, tatoeba-zh-varieties/, speech-zh/).
// A shared folder that is missing is an error: a model that silently
// trained on less would not be the model that was measured.
func LoadCorpora(root string) ([]Corpus, error) {
	own := Corpus{Name: CorpusOwn, Train: OwnCorpus(SplitTrain), Validation: OwnCorpus(SplitValidation), Test: OwnCorpus(SplitTest), SHA256: sum(ownTSV)}
	tax, err := taxonomyCorpus()
	if err != nil {
		return nil, err
	}
	out := []Corpus{tax, own}
	if root == "" {
		return out, nil
	}
	for _, c := range []struct {
		name, dir string
		load      func(dir string, s Split) ([]VarietyExample, error)
	}{
		{CorpusHKCanCor, "hkcancor", func(dir string, s Split) ([]VarietyExample, error) {
			return LoadHKCanCor(dir, s, MinVarietyHan, 0)
		}},
		{CorpusTatoeba, "tatoeba-zh-varieties", LoadTatoeba},
		{CorpusSpeechZH, "speech-zh", LoadSpeechZH},
	} {
		dir := filepath.Join(root, c.dir)
		cor := Corpus{Name: c.name}
		for _, sp := range []struct {
			s   Split
			dst *[]VarietyExample
		}{{SplitTrain, &cor.Train}, {SplitValidation, &cor.Validation}, {SplitTest, &cor.Test}} {
			ex, err := c.load(dir, sp.s)
			if err != nil {
				return nil, fmt.Errorf("corpus %s: %w", c.name, err)
			}
			*sp.dst = ex
		}
		if cor.SHA256, err = sumDir(dir); err != nil {
			return nil, fmt.Errorf("corpus %s: %w", c.name, err)
		}
		out = append(out, cor)
	}
	return out, nil
}

func taxonomyCorpus() (Corpus, error) {
	c := Corpus{Name: CorpusTaxonomy}
	tax, err := taxonomy.Load()
	if err != nil {
		return c, fmt.Errorf("%w: taxonomy: %w", ErrCorpus, err)
	}
	tr, err := tax.Train()
	if err != nil {
		return c, fmt.Errorf("%w: taxonomy: %w", ErrCorpus, err)
	}
	te, err := tax.Test()
	if err != nil {
		return c, fmt.Errorf("%w: taxonomy: %w", ErrCorpus, err)
	}
	h := sha256.New()
	n := 0
	for _, u := range tr {
		l := call.Language(u.Lang)
		fmt.Fprintf(h, "train\t%s\t%s\n", l, u.Text)
		if l != call.LangMandarin && l != call.LangCantonese {
			continue
		}
		e := VarietyExample{Text: u.Text, Variety: l, Source: CorpusTaxonomy}
		if n++; n%5 == 1 {
			c.Validation = append(c.Validation, e)
		} else {
			c.Train = append(c.Train, e)
		}
	}
	for _, u := range te {
		l := call.Language(u.Lang)
		fmt.Fprintf(h, "test\t%s\t%s\n", l, u.Text)
		if l == call.LangMandarin || l == call.LangCantonese {
			c.Test = append(c.Test, VarietyExample{Text: u.Text, Variety: l, Source: CorpusTaxonomy})
		}
	}
	c.SHA256 = hex.EncodeToString(h.Sum(nil))
	return c, nil
}

// LoadSpeechZH reads speech-zh's transcripts.tsv (file, language, text):
// real Mandarin (zh) and Cantonese (yue) speech transcribed. Rows are
// split one in five (see splitOf).
func LoadSpeechZH(dir string, split Split) ([]VarietyExample, error) {
	p := filepath.Join(dir, "transcripts.tsv")
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorpus, err)
	}
	defer f.Close()
	var out []VarietyExample
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	row := 0
	for line := 1; sc.Scan(); line++ {
		t := strings.TrimSpace(sc.Text())
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		cols := strings.Split(t, "\t")
		if len(cols) < 3 {
			return nil, fmt.Errorf("%w: %s:%d: want file, language, text", ErrCorpus, p, line)
		}
		var v call.Language
		switch cols[1] {
		case "zh", "cmn":
			v = call.LangMandarin
		case "yue":
			v = call.LangCantonese
		case "wuu":
			v = call.LangWu
		default:
			return nil, fmt.Errorf("%w: %s:%d: language %q (want zh, cmn, yue or wuu)", ErrCorpus, p, line, cols[1])
		}
		r := row
		row++
		if splitOf(r) != split {
			continue
		}
		out = append(out, VarietyExample{Text: cols[2], Variety: v, Source: CorpusSpeechZH})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrCorpus, p, err)
	}
	if row == 0 {
		return nil, fmt.Errorf("%w: %s: no transcripts", ErrCorpus, p)
	}
	return out, nil
}

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// sumDir hashes the regular files under dir: sorted relative paths, each
// with the SHA-256 of its contents, as `sha256sum` would list them.
func sumDir(dir string) (string, error) {
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() && !strings.HasSuffix(p, ".wav") {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrCorpus, err)
	}
	sort.Strings(files)
	h := sha256.New()
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			return "", fmt.Errorf("%w: %w", ErrCorpus, err)
		}
		rel, _ := filepath.Rel(dir, p)
		fmt.Fprintf(h, "%s  %s\n", sum(b), filepath.ToSlash(rel))
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// BuildVariety trains the served variety model from corpora: the training
// parts fit it, the validation parts calibrate it, the test parts are left
// for evaluation. The model records each corpus with its checksum.
func BuildVariety(ctx context.Context, corpora []Corpus, opt VarietyOptions) (*VarietyModel, error) {
	var train, val []VarietyExample
	var src []DataSource
	for _, c := range corpora {
		train = append(train, c.Train...)
		val = append(val, c.Validation...)
		src = append(src, DataSource{Name: c.Name, SHA256: c.SHA256, Train: len(c.Train), Validation: len(c.Validation)})
	}
	m, err := TrainVarietyWith(ctx, train, val, opt)
	if err != nil {
		return nil, err
	}
	m.Data = src
	return m, nil
}

// DirSHA256 is the checksum of a corpus folder as model files record it:
// the sha256 of every file's sha256 and relative path, in name order
// (recordings excluded).
func DirSHA256(dir string) (string, error) { return sumDir(dir) }
