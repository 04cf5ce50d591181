package kb

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// Limits bound what an ingest accepts, so one bad upload cannot exhaust
// memory. Zero fields take the defaults.
type Limits struct {
	MaxArticleBytes int   // one Markdown file or one JSONL line; default 256 KiB
	MaxUploadBytes  int64 // one JSONL file or one whole upload; default 64 MiB
	MaxArticles     int   // articles in one ingest; default 100,000
}

// Default limits.
const (
	DefaultMaxArticleBytes = 256 << 10
	DefaultMaxUploadBytes  = 64 << 20
	DefaultMaxArticles     = 100_000
)

func (l Limits) withDefaults() Limits {
	if l.MaxArticleBytes <= 0 {
		l.MaxArticleBytes = DefaultMaxArticleBytes
	}
	if l.MaxUploadBytes <= 0 {
		l.MaxUploadBytes = DefaultMaxUploadBytes
	}
	if l.MaxArticles <= 0 {
		l.MaxArticles = DefaultMaxArticles
	}
	return l
}

// ParseError locates a problem in an article source. It wraps ErrMalformed
// or ErrTooLarge.
type ParseError struct {
	File  string // as given to the parser (a path relative to the KB folder)
	Line  int    // 1-based; 0 when the whole file is at fault
	Field string // the front-matter or JSON field at fault, if any
	Msg   string
	Err   error // ErrMalformed or ErrTooLarge
}

func (e *ParseError) Error() string {
	loc := e.File
	if e.Line > 0 {
		loc = fmt.Sprintf("%s:%d", e.File, e.Line)
	}
	if e.Field != "" {
		return fmt.Sprintf("%s: %s: %s", loc, e.Field, e.Msg)
	}
	return fmt.Sprintf("%s: %s", loc, e.Msg)
}

func (e *ParseError) Unwrap() error { return e.Err }

func malformed(file string, line int, field, format string, a ...any) error {
	return &ParseError{File: file, Line: line, Field: field, Msg: fmt.Sprintf(format, a...), Err: ErrMalformed}
}

// frontMatter is the YAML header of a Markdown article; unknown keys are
// errors so that a misspelt "intent:" does not silently drop the routing
// metadata.
type frontMatter struct {
	ID       string   `yaml:"id"`
	Title    string   `yaml:"title"`
	Product  string   `yaml:"product"`
	Intents  []string `yaml:"intents"`
	Language string   `yaml:"language"`
	Tags     []string `yaml:"tags"`
}

var (
	idPattern    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)
	labelPattern = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)
	yamlLine     = regexp.MustCompile(`line (\d+)`)
)

// Languages an article may be written in. Cantonese callers are served by
// the Chinese articles, so there is no separate yue article language.
var articleLanguages = map[string]bool{"zh": true, "en": true}

// ParseMarkdown reads one Markdown article: a front matter block between
// "---" lines (id, title, product, intents, language, tags) then the body.
// name is used in error messages only.
func ParseMarkdown(name string, data []byte, lim Limits) (Article, error) {
	lim = lim.withDefaults()
	if len(data) > lim.MaxArticleBytes {
		return Article{}, &ParseError{File: name, Msg: fmt.Sprintf("article is %d bytes, the limit is %d", len(data), lim.MaxArticleBytes), Err: ErrTooLarge}
	}
	if !utf8.Valid(data) {
		return Article{}, malformed(name, lineOfInvalidUTF8(data), "", "not valid UTF-8")
	}
	text := strings.ReplaceAll(string(data), "\r\n", "\n")
	text = strings.TrimPrefix(text, "\ufeff")
	if !strings.HasPrefix(text, "---\n") {
		return Article{}, malformed(name, 1, "", "missing front matter: the file must start with a line \"---\"")
	}
	rest := text[len("---\n"):]
	end := strings.Index(rest, "\n---\n")
	var header, body string
	switch {
	case end >= 0:
		header, body = rest[:end], rest[end+len("\n---\n"):]
	case strings.HasSuffix(rest, "\n---"):
		header = strings.TrimSuffix(rest, "\n---")
	default:
		return Article{}, malformed(name, 1, "", "front matter is not closed by a line \"---\"")
	}
	var fm frontMatter
	dec := yaml.NewDecoder(strings.NewReader(header))
	dec.KnownFields(true)
	if err := dec.Decode(&fm); err != nil && !errors.Is(err, io.EOF) {
		line := 1
		if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
			var n int
			fmt.Sscan(m[1], &n)
			line = n + 1 // the header starts on the file's second line
		}
		return Article{}, malformed(name, line, "front matter", "%s", yamlMessage(err))
	}
	a := Article{
		ID: fm.ID, Title: fm.Title, Product: fm.Product, Intents: fm.Intents,
		Language: fm.Language, Tags: fm.Tags, Body: strings.TrimSpace(body), Source: name,
	}
	bodyLine := strings.Count(header, "\n") + 3
	if err := a.validate(name, 1, bodyLine); err != nil {
		return Article{}, err
	}
	return a, nil
}

// yamlMessage strips the library's prefix so the message reads as ours.
func yamlMessage(err error) string {
	return strings.TrimPrefix(strings.TrimPrefix(err.Error(), "yaml: "), "unmarshal errors:\n  ")
}

func lineOfInvalidUTF8(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return bytes.Count(b[:i], []byte("\n")) + 1
		}
		i += n
	}
	return 0
}

// validate checks the fields every article needs; line is where the
// metadata sits and bodyLine where the body starts, for the error.
func (a *Article) validate(file string, line, bodyLine int) error {
	switch {
	case a.ID == "":
		return malformed(file, line, "id", "is required")
	case !idPattern.MatchString(a.ID):
		return malformed(file, line, "id", "%q may hold only letters, digits, '.', '_' and '-' (at most 128)", a.ID)
	case strings.TrimSpace(a.Title) == "":
		return malformed(file, line, "title", "is required")
	case a.Product == "":
		return malformed(file, line, "product", "is required (e.g. phone, smart_home, wearable, accessory, general)")
	case !labelPattern.MatchString(a.Product):
		return malformed(file, line, "product", "%q must be a lower-case identifier", a.Product)
	case len(a.Intents) == 0:
		return malformed(file, line, "intents", "at least one intent is required")
	case !articleLanguages[a.Language]:
		return malformed(file, line, "language", "%q is not zh or en", a.Language)
	case strings.TrimSpace(a.Body) == "":
		return malformed(file, bodyLine, "body", "is empty")
	}
	for _, in := range a.Intents {
		if !labelPattern.MatchString(in) {
			return malformed(file, line, "intents", "%q must be a lower-case identifier", in)
		}
	}
	a.Title = strings.TrimSpace(a.Title)
	return nil
}

// jsonArticle is one JSONL line; unknown fields are errors.
type jsonArticle struct {
	ID       string   `json:"id"`
	Title    string   `json:"title"`
	Product  string   `json:"product"`
	Intents  []string `json:"intents"`
	Language string   `json:"language"`
	Tags     []string `json:"tags"`
	Body     string   `json:"body"`
}

// ParseJSONL reads one article per line (fields as in Article, body in
// Markdown). Blank lines are skipped. The whole stream is bounded by
// MaxUploadBytes and each line by MaxArticleBytes.
func ParseJSONL(name string, r io.Reader, lim Limits) ([]Article, error) {
	lim = lim.withDefaults()
	lr := &io.LimitedReader{R: r, N: lim.MaxUploadBytes + 1}
	sc := bufio.NewScanner(lr)
	sc.Buffer(make([]byte, 0, 64<<10), lim.MaxArticleBytes+1)
	var out []Article
	line := 0
	for sc.Scan() {
		line++
		if lr.N <= 0 {
			// The scanner has read past the limit: the upload is too large
			// whatever this (possibly truncated) line holds.
			return nil, &ParseError{File: name, Msg: fmt.Sprintf("upload is larger than %d bytes", lim.MaxUploadBytes), Err: ErrTooLarge}
		}
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		if len(sc.Bytes()) > lim.MaxArticleBytes {
			return nil, &ParseError{File: name, Line: line, Msg: fmt.Sprintf("line is longer than %d bytes", lim.MaxArticleBytes), Err: ErrTooLarge}
		}
		if len(out) >= lim.MaxArticles {
			return nil, &ParseError{File: name, Line: line, Msg: fmt.Sprintf("more than %d articles", lim.MaxArticles), Err: ErrTooLarge}
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		var ja jsonArticle
		if err := dec.Decode(&ja); err != nil {
			return nil, malformed(name, line, "", "not a JSON article object: %v", err)
		}
		if dec.More() {
			return nil, malformed(name, line, "", "more than one JSON value on the line")
		}
		a := Article{ID: ja.ID, Title: ja.Title, Product: ja.Product, Intents: ja.Intents,
			Language: ja.Language, Tags: ja.Tags, Body: strings.TrimSpace(ja.Body), Source: fmt.Sprintf("%s:%d", name, line)}
		if err := a.validate(name, line, line); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, &ParseError{File: name, Line: line + 1, Msg: fmt.Sprintf("line is longer than %d bytes", lim.MaxArticleBytes), Err: ErrTooLarge}
		}
		return nil, fmt.Errorf("kb: read %s: %w", name, err)
	}
	if lr.N <= 0 {
		return nil, &ParseError{File: name, Msg: fmt.Sprintf("upload is larger than %d bytes", lim.MaxUploadBytes), Err: ErrTooLarge}
	}
	return out, nil
}

// LoadDir reads every *.md and *.jsonl file under dir (README.md excepted),
// in path order, and checks that article ids are unique. Errors name the
// file relative to dir.
func LoadDir(dir string, lim Limits) ([]Article, error) {
	lim = lim.withDefaults()
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		ext := strings.ToLower(filepath.Ext(p))
		if (ext == ".md" && !strings.EqualFold(d.Name(), "README.md")) || ext == ".jsonl" {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("kb: read %s: %w", dir, err)
	}
	sort.Strings(files)
	var (
		out   []Article
		total int64
		seen  = map[string]string{}
	)
	for _, p := range files {
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("kb: %s: %w", rel, err)
		}
		if total += st.Size(); total > lim.MaxUploadBytes {
			return nil, &ParseError{File: rel, Msg: fmt.Sprintf("the articles add up to more than %d bytes", lim.MaxUploadBytes), Err: ErrTooLarge}
		}
		var arts []Article
		if strings.HasSuffix(strings.ToLower(p), ".jsonl") {
			f, err := os.Open(p)
			if err != nil {
				return nil, fmt.Errorf("kb: %s: %w", rel, err)
			}
			arts, err = ParseJSONL(rel, f, lim)
			f.Close()
			if err != nil {
				return nil, err
			}
		} else {
			if st.Size() > int64(lim.MaxArticleBytes) {
				return nil, &ParseError{File: rel, Msg: fmt.Sprintf("article is %d bytes, the limit is %d", st.Size(), lim.MaxArticleBytes), Err: ErrTooLarge}
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return nil, fmt.Errorf("kb: %s: %w", rel, err)
			}
			a, err := ParseMarkdown(rel, b, lim)
			if err != nil {
				return nil, err
			}
			arts = []Article{a}
		}
		for _, a := range arts {
			if prev, dup := seen[a.ID]; dup {
				return nil, malformed(a.Source, 0, "id", "%q is also used by %s", a.ID, prev)
			}
			seen[a.ID] = a.Source
		}
		out = append(out, arts...)
		if len(out) > lim.MaxArticles {
			return nil, &ParseError{File: rel, Msg: fmt.Sprintf("more than %d articles", lim.MaxArticles), Err: ErrTooLarge}
		}
	}
	return out, nil
}
