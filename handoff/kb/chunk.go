package kb

import (
	"fmt"
	"strings"
	"unicode"
)

// ChunkOptions sets the size of chunks in estimated tokens (see
// EstimateTokens). Zero fields take the defaults.
type ChunkOptions struct {
	// MaxTokens is the budget of one chunk. The default, 200, keeps a chunk
	// well inside the 512-token window of e5-small even after its title and
	// heading are prepended, and small enough that one chunk is about one
	// fix, which is what an agent wants to see in a brief.
	MaxTokens int
	// Overlap is how many tokens of the previous chunk's tail are repeated
	// at the start of the next one in the same article, so a step cut at a
	// boundary is still found with its context. Default 40.
	Overlap int
}

func (o ChunkOptions) withDefaults() ChunkOptions {
	if o.MaxTokens <= 0 {
		o.MaxTokens = 200
	}
	if o.Overlap < 0 || o.Overlap >= o.MaxTokens {
		o.Overlap = 0
	} else if o.Overlap == 0 {
		o.Overlap = min(40, o.MaxTokens/4)
	}
	return o
}

// EstimateTokens approximates the subword tokens of s without a
// tokenizer: one per CJK character, one per Latin word or number, one per
// other symbol. For XLM-R (e5) this errs on the low side for English by
// about a third, which the default budget leaves room for.
func EstimateTokens(s string) int {
	n := 0
	inWord := false
	for _, r := range s {
		switch {
		case isCJK(r):
			n++
			inWord = false
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			if !inWord {
				n++
				inWord = true
			}
		case unicode.IsSpace(r):
			inWord = false
		default:
			if unicode.IsPunct(r) || unicode.IsSymbol(r) {
				n++
			}
			inWord = false
		}
	}
	return n
}

func isCJK(r rune) bool {
	return unicode.Is(unicode.Han, r) || unicode.Is(unicode.Hiragana, r) || unicode.Is(unicode.Katakana, r) || unicode.Is(unicode.Hangul, r)
}

// unit is a paragraph (or a piece of an oversized one) with the heading in
// force where it sits.
type unit struct {
	text    string
	heading string
	tokens  int
}

// ChunkArticle cuts an article into chunks: paragraphs (blank-line
// separated blocks, headings included so their words are searchable) are
// packed in order up to the token budget; a paragraph larger than the
// budget is split at sentence ends, then hard at the budget. Each chunk
// carries the article's metadata and the heading of its first paragraph.
func ChunkArticle(a Article, opts ChunkOptions) []Chunk {
	opts = opts.withDefaults()
	units := splitUnits(a.Body, opts.MaxTokens)
	var chunks []Chunk
	var cur []unit
	curTokens := 0
	flush := func() {
		if len(cur) == 0 {
			return
		}
		parts := make([]string, len(cur))
		for i, u := range cur {
			parts[i] = u.text
		}
		ord := len(chunks)
		chunks = append(chunks, Chunk{
			ID: fmt.Sprintf("%s#%d", a.ID, ord), ArticleID: a.ID, Ord: ord,
			Title: a.Title, Heading: cur[0].heading, Text: strings.Join(parts, "\n\n"),
			Product: a.Product, Intents: a.Intents, Language: a.Language, Tags: a.Tags,
		})
	}
	for _, u := range units {
		if curTokens+u.tokens > opts.MaxTokens && len(cur) > 0 {
			flush()
			// Carry the tail of the chunk just emitted, whole paragraphs
			// only, while it fits the overlap.
			var carry []unit
			t := 0
			for i := len(cur) - 1; i >= 0 && t+cur[i].tokens <= opts.Overlap && t+cur[i].tokens+u.tokens <= opts.MaxTokens; i-- {
				carry = append([]unit{cur[i]}, carry...)
				t += cur[i].tokens
			}
			cur, curTokens = carry, t
		}
		cur = append(cur, u)
		curTokens += u.tokens
	}
	flush()
	return chunks
}

func splitUnits(body string, budget int) []unit {
	var out []unit
	heading := ""
	for _, para := range splitParagraphs(body) {
		// A heading line starts a new paragraph of its own in Markdown
		// even without a blank line before it.
		for _, block := range splitAtHeadings(para) {
			if h, ok := headingText(block); ok {
				heading = h
			}
			for _, piece := range splitToBudget(block, budget) {
				out = append(out, unit{text: piece, heading: heading, tokens: EstimateTokens(piece)})
			}
		}
	}
	return out
}

func splitParagraphs(body string) []string {
	var out []string
	var b strings.Builder
	for _, line := range strings.Split(strings.ReplaceAll(body, "\r\n", "\n"), "\n") {
		if strings.TrimSpace(line) == "" {
			if s := strings.TrimSpace(b.String()); s != "" {
				out = append(out, s)
			}
			b.Reset()
			continue
		}
		b.WriteString(line)
		b.WriteByte('\n')
	}
	if s := strings.TrimSpace(b.String()); s != "" {
		out = append(out, s)
	}
	return out
}

func splitAtHeadings(para string) []string {
	lines := strings.Split(para, "\n")
	var out []string
	start := 0
	for i, l := range lines {
		if _, ok := headingText(l); ok && i > start {
			out = append(out, strings.Join(lines[start:i], "\n"))
			start = i
		}
	}
	return append(out, strings.Join(lines[start:], "\n"))
}

// headingText returns the text of an ATX heading ("## Steps") on the
// block's first line.
func headingText(block string) (string, bool) {
	line, _, _ := strings.Cut(block, "\n")
	t := strings.TrimLeft(line, "#")
	hashes := len(line) - len(t)
	if hashes < 1 || hashes > 6 || (t != "" && t[0] != ' ' && t[0] != '\t') {
		return "", false
	}
	t = strings.TrimSpace(strings.TrimRight(strings.TrimSpace(t), "#"))
	return t, t != ""
}

// splitToBudget cuts an oversized block at sentence ends, then hard at
// the budget, so no chunk exceeds it.
func splitToBudget(block string, budget int) []string {
	if EstimateTokens(block) <= budget {
		return []string{block}
	}
	var out []string
	var b strings.Builder
	tokens := 0
	emit := func() {
		if s := strings.TrimSpace(b.String()); s != "" {
			out = append(out, s)
		}
		b.Reset()
		tokens = 0
	}
	for _, sent := range sentences(block) {
		st := EstimateTokens(sent)
		if st > budget {
			emit()
			out = append(out, hardSplit(sent, budget)...)
			continue
		}
		if tokens+st > budget {
			emit()
		}
		b.WriteString(sent)
		tokens += st
	}
	emit()
	return out
}

func sentences(s string) []string {
	var out []string
	start := 0
	rs := []rune(s)
	for i, r := range rs {
		if strings.ContainsRune("。！？；!?;\n", r) || (r == '.' && (i+1 == len(rs) || unicode.IsSpace(rs[i+1]))) {
			out = append(out, string(rs[start:i+1]))
			start = i + 1
		}
	}
	if start < len(rs) {
		out = append(out, string(rs[start:]))
	}
	return out
}

func hardSplit(s string, budget int) []string {
	var out []string
	var b strings.Builder
	tokens, inWord := 0, false
	for _, r := range s {
		// The same counting as EstimateTokens, kept incremental so a huge
		// run without sentence ends stays linear.
		word := unicode.IsLetter(r) || unicode.IsDigit(r)
		switch {
		case isCJK(r):
			tokens++
		case word && !inWord:
			tokens++
		case !word && (unicode.IsPunct(r) || unicode.IsSymbol(r)):
			tokens++
		}
		inWord = word && !isCJK(r)
		if tokens > budget {
			if t := strings.TrimSpace(b.String()); t != "" {
				out = append(out, t)
			}
			b.Reset()
			tokens = 1
		}
		b.WriteRune(r)
	}
	if t := strings.TrimSpace(b.String()); t != "" {
		out = append(out, t)
	}
	return out
}
