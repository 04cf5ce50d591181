// Package taxonomy is the hotline's intent taxonomy and the utterances we
// wrote to train and test the intent classifier on it, embedded in the
// binary so that the classifier can be trained at start with no file or
// network at hand.
//
// Files: taxonomy.yaml (product lines and intents), train.tsv and test.tsv
// (intent, language, text; test.tsv is held out and never trained on).
package taxonomy

import (
	"bufio"
	"bytes"
	"embed"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

//go:embed taxonomy.yaml train.tsv test.tsv
var files embed.FS

// ErrTaxonomy wraps problems with the taxonomy or utterance files.
var ErrTaxonomy = errors.New("taxonomy")

// Intent is one entry of the taxonomy.
type Intent struct {
	ID          string `yaml:"id" json:"id"`
	NameZH      string `yaml:"name_zh" json:"name_zh"`
	Description string `yaml:"description" json:"description"`
	// Skill is the agents' skill group the call is routed to.
	Skill string `yaml:"skill" json:"skill"`
	// Emergency intents jump every queue.
	Emergency bool `yaml:"emergency" json:"emergency,omitempty"`
	// Policy is the verification policy entry the intent is checked by;
	// empty: the policy's fallback.
	Policy string `yaml:"policy" json:"policy,omitempty"`
	// Ticket is the service ticket a brief pre-fills; nil: none.
	Ticket *Ticket `yaml:"ticket" json:"ticket,omitempty"`
	// KBProduct narrows the brief's suggestions to articles of this
	// product (and general ones); empty in the file: the product line's.
	KBProduct   string `yaml:"kb_product" json:"kb_product,omitempty"`
	ProductLine string `yaml:"-" json:"product_line"`
}

// KBProduct is a product articles are filed under and the words callers
// name it by.
type KBProduct struct {
	ID    string   `yaml:"id"`
	Words []string `yaml:"words"`
}

// Ticket is the kind of service ticket an intent opens and the fields the
// agent must fill.
type Ticket struct {
	Kind   string   `yaml:"kind" json:"kind"`
	Fields []string `yaml:"fields" json:"fields"`
}

// ProductLine groups intents the way agents are grouped.
type ProductLine struct {
	ID     string `yaml:"id"`
	Name   string `yaml:"name"`
	NameZH string `yaml:"name_zh"`
	// KBProduct is the knowledge-base product its intents' suggestions
	// are narrowed to; empty: every product.
	KBProduct string   `yaml:"kb_product"`
	Intents   []Intent `yaml:"intents"`
}

// Taxonomy is the whole file.
type Taxonomy struct {
	Version int `yaml:"version"`
	// KBProducts are the products articles may be filed under, with the
	// words a caller names each by.
	KBProducts   []KBProduct   `yaml:"kb_products"`
	ProductLines []ProductLine `yaml:"product_lines"`

	// trainFile, when set, holds the training utterances instead of the
	// embedded train.tsv (an operator's own taxonomy and examples).
	trainFile string
}

// Utterance is one labelled example.
type Utterance struct {
	Intent string
	Lang   string
	Text   string
}

// Load parses the embedded taxonomy.
func Load() (*Taxonomy, error) {
	b, err := files.ReadFile("taxonomy.yaml")
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrTaxonomy, err)
	}
	return Parse(b)
}

// Parse reads a taxonomy strictly: unknown keys, duplicate intents and
// intents without an id are errors.
func Parse(b []byte) (*Taxonomy, error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var t Taxonomy
	if err := dec.Decode(&t); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrTaxonomy, err)
	}
	seen := map[string]bool{}
	for pi := range t.ProductLines {
		pl := &t.ProductLines[pi]
		for ii := range pl.Intents {
			in := &pl.Intents[ii]
			if in.ID == "" {
				return nil, fmt.Errorf("%w: product line %q: intent %d has no id", ErrTaxonomy, pl.ID, ii)
			}
			if seen[in.ID] {
				return nil, fmt.Errorf("%w: intent %q defined twice", ErrTaxonomy, in.ID)
			}
			seen[in.ID] = true
			in.ProductLine = pl.ID
			if in.KBProduct == "" {
				in.KBProduct = pl.KBProduct
			}
			if in.KBProduct != "" && !t.isKBProduct(in.KBProduct) {
				return nil, fmt.Errorf("%w: intent %q: kb_product %q is not one of kb_products %v", ErrTaxonomy, in.ID, in.KBProduct, t.kbProductIDs())
			}
			if in.Ticket != nil && (in.Ticket.Kind == "" || len(in.Ticket.Fields) == 0) {
				return nil, fmt.Errorf("%w: intent %q: a ticket needs a kind and fields", ErrTaxonomy, in.ID)
			}
		}
	}
	if len(seen) == 0 {
		return nil, fmt.Errorf("%w: no intents", ErrTaxonomy)
	}
	return &t, nil
}

// CheckArticle refuses a knowledge-base article whose product or intents
// the taxonomy does not know: the brief's filter could never find it.
// source names the article's file and line for the error.
func (t *Taxonomy) CheckArticle(source, product string, intents []string) error {
	if !t.isKBProduct(product) {
		return fmt.Errorf("%w: %s: product %q is not one of the taxonomy's kb_products %v", ErrTaxonomy, source, product, t.kbProductIDs())
	}
	for _, in := range intents {
		if _, ok := t.Lookup(in); !ok {
			return fmt.Errorf("%w: %s: intent %q is not in the taxonomy", ErrTaxonomy, source, in)
		}
	}
	return nil
}

func (t *Taxonomy) isKBProduct(id string) bool {
	return slices.Contains(t.kbProductIDs(), id)
}

func (t *Taxonomy) kbProductIDs() []string {
	var ids []string
	for _, p := range t.KBProducts {
		ids = append(ids, p.ID)
	}
	return ids
}

// KBProductFor is the product a brief's suggestions are narrowed to: the
// one the caller named, else the intent's own. Of several named, the
// intent's own wins ("手表连不上手机" is about the watch when the intent is
// wearable sync), then the longest word ("手机壳" names the accessory, not
// the phone). text is simplified Chinese or English, matched lower-cased.
func (t *Taxonomy) KBProductFor(in Intent, text string) string {
	low := strings.ToLower(text)
	best, bestLen := "", 0
	for _, p := range t.KBProducts {
		for _, w := range p.Words {
			if !containsWord(low, w) {
				continue
			}
			if p.ID == in.KBProduct {
				return p.ID
			}
			if len(w) > bestLen {
				best, bestLen = p.ID, len(w)
			}
		}
	}
	if best != "" {
		return best
	}
	return in.KBProduct
}

// containsWord finds w in s; an ASCII word must stand alone ("tv" is not
// in "activate"), Chinese has no spaces to stand between.
func containsWord(s, w string) bool {
	for i := 0; ; {
		j := strings.Index(s[i:], w)
		if j < 0 {
			return false
		}
		j += i
		end := j + len(w)
		if !isASCIILetter(w[0]) || ((j == 0 || !isASCIILetter(s[j-1])) && (end == len(s) || !isASCIILetter(s[end]))) {
			return true
		}
		i = j + 1
	}
}

func isASCIILetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// Intents lists every intent in file order.
func (t *Taxonomy) Intents() []Intent {
	var out []Intent
	for _, pl := range t.ProductLines {
		out = append(out, pl.Intents...)
	}
	return out
}

// Lookup finds an intent by id.
func (t *Taxonomy) Lookup(id string) (Intent, bool) {
	for _, pl := range t.ProductLines {
		for _, in := range pl.Intents {
			if in.ID == id {
				return in, true
			}
		}
	}
	return Intent{}, false
}

// IDs lists the intent ids.
func (t *Taxonomy) IDs() []string {
	var out []string
	for _, in := range t.Intents() {
		out = append(out, in.ID)
	}
	return out
}

// Train returns the training utterances, checked against the taxonomy.
func (t *Taxonomy) Train() ([]Utterance, error) {
	if t.trainFile != "" {
		b, err := os.ReadFile(t.trainFile)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrTaxonomy, err)
		}
		return t.checkUtterances(t.trainFile, b)
	}
	return t.utterances("train.tsv")
}

// LoadFiles reads an operator's taxonomy from path (empty: the embedded
// one) and, when utterances is not empty, its training utterances (intent,
// language, text; tab separated) from that file instead of the embedded
// ones. Errors name the file; utterances naming an intent the taxonomy
// lacks are refused here.
func LoadFiles(path, utterances string) (*Taxonomy, error) {
	if path == "" {
		t, err := Load()
		if err != nil {
			return nil, err
		}
		t.trainFile = utterances
		if utterances != "" {
			if _, err := t.Train(); err != nil {
				return nil, err
			}
		}
		return t, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrTaxonomy, err)
	}
	t, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	t.trainFile = utterances
	if utterances != "" {
		if _, err := t.Train(); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// Test returns the held-out utterances.
func (t *Taxonomy) Test() ([]Utterance, error) { return t.utterances("test.tsv") }

// File returns an embedded file's bytes (taxonomy.yaml, train.tsv, test.tsv).
func File(name string) ([]byte, error) { return files.ReadFile(name) }

func (t *Taxonomy) utterances(name string) ([]Utterance, error) {
	b, err := files.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrTaxonomy, err)
	}
	return t.checkUtterances(name, b)
}

func (t *Taxonomy) checkUtterances(name string, b []byte) ([]Utterance, error) {
	us, err := ParseTSV(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	for i, u := range us {
		if _, ok := t.Lookup(u.Intent); !ok {
			return nil, fmt.Errorf("%w: %s: utterance %d has intent %q not in the taxonomy", ErrTaxonomy, name, i+1, u.Intent)
		}
	}
	return us, nil
}

// ParseTSV reads "intent<TAB>lang<TAB>text" lines (# comments, blank
// lines skipped).
func ParseTSV(b []byte) ([]Utterance, error) {
	var out []Utterance
	sc := bufio.NewScanner(bytes.NewReader(b))
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(s) == "" || strings.HasPrefix(s, "#") {
			continue
		}
		cols := strings.SplitN(s, "\t", 3)
		if len(cols) != 3 || strings.TrimSpace(cols[2]) == "" {
			return nil, fmt.Errorf("%w: line %d: want intent, lang, text separated by tabs", ErrTaxonomy, line)
		}
		out = append(out, Utterance{Intent: strings.TrimSpace(cols[0]), Lang: strings.TrimSpace(cols[1]), Text: strings.TrimSpace(cols[2])})
	}
	return out, sc.Err()
}
