package evals

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/callbrief/callbrief/call"
)

// IntentItem is one labelled utterance.
type IntentItem struct {
	Text     string        `json:"text"`
	Intent   string        `json:"intent"`
	Language call.Language `json:"lang,omitempty"`
	// Source names the corpus a test item came from, when a test set
	// pools several (scored per source).
	Source string `json:"source,omitempty"`
}

// IntentDataset is a train/test pair with optional validation data.
// Labels equal to OOSLabel mean "out of scope".
type IntentDataset struct {
	Name       string
	Train      []IntentItem
	Validation []IntentItem
	Test       []IntentItem
	OOSLabel   string
	// Folds > 1 asks the runner to cross-validate on Test (for a dataset
	// that ships only one labelled set, such as the HWU64 fold used here).
	Folds int
	// Emergencies are the intents that jump every queue: a prediction of
	// one for an utterance of another intent is counted on its own.
	Emergencies []string
}

// labelColumns are the header names accepted for the label column.
var labelColumns = []string{"intent", "label", "category"}

// LoadIntentFile reads labelled utterances from a .csv (a header naming a
// text column and an intent, label or category column, optionally lang),
// a .jsonl ({"text":..., "intent" or "label":..., "lang":...} per line) or
// a .tsv (intent, lang, text per line; # comments) file.
func LoadIntentFile(path string) ([]IntentItem, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDataset, err)
	}
	defer f.Close()
	var items []IntentItem
	switch strings.ToLower(filepath.Ext(path)) {
	case ".csv":
		items, err = ParseIntentCSV(f)
	case ".jsonl", ".ndjson":
		items, err = ParseIntentJSONL(f)
	case ".tsv":
		items, err = ParseIntentTSV(f)
	default:
		return nil, fmt.Errorf("%w: %s: unknown format (want .csv, .jsonl or .tsv)", ErrDataset, path)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return items, nil
}

// ParseIntentCSV reads a CSV with a header row.
func ParseIntentCSV(r io.Reader) ([]IntentItem, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	head, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("%w: reading CSV header: %w", ErrDataset, err)
	}
	textCol, labelCol, langCol := -1, -1, -1
	for i, h := range head {
		switch h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))); {
		case h == "text" || h == "utterance" || h == "sentence":
			textCol = i
		case h == "lang" || h == "language":
			langCol = i
		default:
			for _, l := range labelColumns {
				if h == l && labelCol < 0 {
					labelCol = i
				}
			}
		}
	}
	if textCol < 0 || labelCol < 0 {
		return nil, fmt.Errorf("%w: CSV header %q needs a text column and an intent/label/category column", ErrDataset, head)
	}
	var items []IntentItem
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrDataset, err)
		}
		if len(rec) <= max(textCol, labelCol) {
			return nil, fmt.Errorf("%w: CSV record %d has %d fields", ErrDataset, line, len(rec))
		}
		it := IntentItem{Text: rec[textCol], Intent: strings.TrimSpace(rec[labelCol])}
		if langCol >= 0 && langCol < len(rec) {
			it.Language = call.Language(strings.TrimSpace(rec[langCol]))
		}
		if it.Intent == "" {
			return nil, fmt.Errorf("%w: CSV record %d has an empty label", ErrDataset, line)
		}
		items = append(items, it)
	}
	return nonEmpty(items)
}

// ParseIntentJSONL reads one JSON object per line.
func ParseIntentJSONL(r io.Reader) ([]IntentItem, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 4<<20)
	var items []IntentItem
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		if s == "" {
			continue
		}
		var v struct {
			Text     string `json:"text"`
			Intent   string `json:"intent"`
			Label    string `json:"label"`
			Category string `json:"category"`
			Lang     string `json:"lang"`
		}
		if err := json.Unmarshal([]byte(s), &v); err != nil {
			return nil, fmt.Errorf("%w: line %d: %w", ErrDataset, line, err)
		}
		label := firstNonEmpty(v.Intent, v.Label, v.Category)
		if label == "" {
			return nil, fmt.Errorf("%w: line %d: no intent, label or category", ErrDataset, line)
		}
		items = append(items, IntentItem{Text: v.Text, Intent: label, Language: call.Language(v.Lang)})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: line %d: %w", ErrDataset, line+1, err)
	}
	return nonEmpty(items)
}

// ParseIntentTSV reads "intent<TAB>lang<TAB>text" lines, the format of the
// hotline's own utterance files; blank lines and # comments are skipped.
func ParseIntentTSV(r io.Reader) ([]IntentItem, error) {
	sc := bufio.NewScanner(r)
	var items []IntentItem
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(s) == "" || strings.HasPrefix(s, "#") {
			continue
		}
		cols := strings.SplitN(s, "\t", 3)
		if len(cols) != 3 {
			return nil, fmt.Errorf("%w: line %d: want intent, lang, text separated by tabs", ErrDataset, line)
		}
		items = append(items, IntentItem{Intent: strings.TrimSpace(cols[0]), Language: call.Language(strings.TrimSpace(cols[1])), Text: strings.TrimSpace(cols[2])})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: line %d: %w", ErrDataset, line+1, err)
	}
	return nonEmpty(items)
}

func nonEmpty(items []IntentItem) ([]IntentItem, error) {
	if len(items) == 0 {
		return nil, fmt.Errorf("%w: no labelled utterances", ErrDataset)
	}
	return items, nil
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v = strings.TrimSpace(v); v != "" {
			return v
		}
	}
	return ""
}

// LoadBanking77 reads banking_data/train.csv and test.csv.
func LoadBanking77(dir string) (*IntentDataset, error) {
	tr, err := LoadIntentFile(filepath.Join(dir, "banking_data", "train.csv"))
	if err != nil {
		return nil, err
	}
	te, err := LoadIntentFile(filepath.Join(dir, "banking_data", "test.csv"))
	if err != nil {
		return nil, err
	}
	return &IntentDataset{Name: "banking77", Train: tr, Test: te}, nil
}

// CLINCOOSLabel is CLINC150's out-of-scope label.
const CLINCOOSLabel = "oos"

// LoadCLINC150 reads data/data_full.json: the 150 in-scope intents and the
// oos lists (oos_train becomes an explicit class, oos_val tunes rejection,
// oos_test is scored as out of scope).
func LoadCLINC150(dir string) (*IntentDataset, error) {
	p := filepath.Join(dir, "data", "data_full.json")
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDataset, err)
	}
	var raw map[string][][2]string
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrDataset, p, err)
	}
	conv := func(keys ...string) []IntentItem {
		var out []IntentItem
		for _, k := range keys {
			for _, r := range raw[k] {
				out = append(out, IntentItem{Text: r[0], Intent: r[1], Language: call.LangEnglish})
			}
		}
		return out
	}
	ds := &IntentDataset{Name: "clinc150 (data_full)", OOSLabel: CLINCOOSLabel,
		Train: conv("train", "oos_train"), Validation: conv("val", "oos_val"), Test: conv("test", "oos_test")}
	if len(ds.Train) == 0 || len(ds.Test) == 0 {
		return nil, fmt.Errorf("%w: %s has no train or test list", ErrDataset, p)
	}
	return ds, nil
}

// LoadHWU64 reads the HWU64 fold-1 test set (one semicolon-separated CSV
// per intent, labels scenario_intent). It ships without a training set, so
// the dataset asks for 5-fold cross-validation.
func LoadHWU64(dir string) (*IntentDataset, error) {
	files, _ := filepath.Glob(filepath.Join(dir, "CrossValidation", "*", "*", "CrossValidation", "KFold_1", "testset", "csv", "*.csv"))
	if len(files) == 0 {
		return nil, fmt.Errorf("%w: no HWU64 CSV files under %s", ErrDataset, dir)
	}
	sort.Strings(files)
	var items []IntentItem
	for _, fn := range files {
		f, err := os.Open(fn)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrDataset, err)
		}
		cr := csv.NewReader(f)
		cr.Comma = ';'
		cr.FieldsPerRecord = -1
		cr.LazyQuotes = true
		recs, err := cr.ReadAll()
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrDataset, fn, err)
		}
		for i, r := range recs {
			if i == 0 || len(r) < 5 {
				continue
			}
			items = append(items, IntentItem{Text: r[4], Intent: r[1] + "_" + r[2], Language: call.LangEnglish})
		}
	}
	return &IntentDataset{Name: "hwu64 (fold-1 test set, 5-fold CV)", Test: items, Folds: 5}, nil
}

// LoadNamedIntentDataset loads banking77, clinc150 or hwu64 from their
// folder under root (the shared data folder).
func LoadNamedIntentDataset(root, name string) (*IntentDataset, error) {
	switch name {
	case "banking77":
		return LoadBanking77(filepath.Join(root, "banking77"))
	case "clinc150":
		return LoadCLINC150(filepath.Join(root, "clinc150"))
	case "hwu64":
		return LoadHWU64(filepath.Join(root, "hwu64"))
	}
	return nil, fmt.Errorf("%w: unknown dataset %q (banking77, clinc150, hwu64)", ErrDataset, name)
}
