package kb

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const goodMD = `---
id: zh-power-001
title: 手机无法开机
product: phone
intents: [device_power_boot]
language: zh
tags: [开机, 黑屏]
---

# 手机无法开机

## 处理步骤
1. 长按电源键 15 秒。
2. 充电 30 分钟。
`

func TestParseMarkdown(t *testing.T) {
	a, err := ParseMarkdown("power/a.md", []byte(goodMD), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if a.ID != "zh-power-001" || a.Product != "phone" || a.Language != "zh" || len(a.Intents) != 1 || len(a.Tags) != 2 || !strings.HasPrefix(a.Body, "# 手机无法开机") {
		t.Fatalf("parsed %+v", a)
	}
	// CRLF line ends and a BOM are accepted.
	crlf := "\ufeff" + strings.ReplaceAll(goodMD, "\n", "\r\n")
	if _, err := ParseMarkdown("crlf.md", []byte(crlf), Limits{}); err != nil {
		t.Fatalf("CRLF: %v", err)
	}
}

func TestParseMarkdownErrors(t *testing.T) {
	swap := func(old, new string) string { return strings.Replace(goodMD, old, new, 1) }
	tests := []struct {
		name string
		in   string
		lim  Limits
		want error
		msg  string // substring: the message must locate the problem
	}{
		{"no front matter", "# title\nbody", Limits{}, ErrMalformed, "bad.md:1: missing front matter"},
		{"unclosed", "---\nid: x\n", Limits{}, ErrMalformed, "not closed"},
		{"yaml syntax", swap("tags: [开机, 黑屏]", "tags: [开机, 黑屏"), Limits{}, ErrMalformed, "bad.md:"},
		{"unknown key", swap("tags:", "intent: [x]\ntags:"), Limits{}, ErrMalformed, "field intent not found"},
		{"missing id", swap("id: zh-power-001\n", ""), Limits{}, ErrMalformed, "id: is required"},
		{"bad id", swap("id: zh-power-001", "id: 'a b'"), Limits{}, ErrMalformed, "id: \"a b\""},
		{"missing title", swap("title: 手机无法开机\n", ""), Limits{}, ErrMalformed, "title: is required"},
		{"no intents", swap("intents: [device_power_boot]\n", ""), Limits{}, ErrMalformed, "intents: at least one"},
		{"bad intent", swap("[device_power_boot]", "[Power Boot]"), Limits{}, ErrMalformed, "intents: \"Power Boot\""},
		{"bad language", swap("language: zh", "language: fr"), Limits{}, ErrMalformed, "language: \"fr\""},
		{"empty body", strings.SplitAfter(goodMD, "---\n")[0] + strings.SplitAfter(goodMD, "---\n")[1] + "\n\n", Limits{}, ErrMalformed, "body: is empty"},
		{"invalid utf-8", swap("长按", "\xff\xfe"), Limits{}, ErrMalformed, "bad.md:13: not valid UTF-8"},
		{"too large", goodMD, Limits{MaxArticleBytes: 100}, ErrTooLarge, "the limit is 100"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseMarkdown("bad.md", []byte(tc.in), tc.lim)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			var pe *ParseError
			if !errors.As(err, &pe) || pe.File != "bad.md" {
				t.Fatalf("err %v is not a ParseError naming the file", err)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("message %q does not contain %q", err, tc.msg)
			}
		})
	}
}

func TestParseJSONL(t *testing.T) {
	good := `{"id":"en-1","title":"Phone dead","product":"phone","intents":["device_power_boot"],"language":"en","body":"## Steps\n1. Hold power."}`
	tests := []struct {
		name string
		in   string
		lim  Limits
		n    int
		want error
		msg  string
	}{
		{"two articles and a blank line", good + "\n\n" + strings.Replace(good, "en-1", "en-2", 1) + "\n", Limits{}, 2, nil, ""},
		{"not json", good + "\n{oops\n", Limits{}, 0, ErrMalformed, "a.jsonl:2: not a JSON article"},
		{"unknown field", strings.Replace(good, `"body"`, `"bodyy"`, 1), Limits{}, 0, ErrMalformed, "a.jsonl:1"},
		{"two values on a line", good + " {}", Limits{}, 0, ErrMalformed, "more than one JSON value"},
		{"invalid article", strings.Replace(good, `"en"`, `"de"`, 1), Limits{}, 0, ErrMalformed, "a.jsonl:1: language"},
		{"long line", good, Limits{MaxArticleBytes: 50}, 0, ErrTooLarge, "a.jsonl:1: line is longer than 50"},
		{"upload too large", good + "\n" + good, Limits{MaxUploadBytes: int64(len(good) + 10)}, 0, ErrTooLarge, "upload is larger"},
		{"too many articles", good + "\n" + strings.Replace(good, "en-1", "en-2", 1), Limits{MaxArticles: 1}, 0, ErrTooLarge, "a.jsonl:2: more than 1 articles"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			arts, err := ParseJSONL("a.jsonl", strings.NewReader(tc.in), tc.lim)
			if tc.want == nil {
				if err != nil || len(arts) != tc.n {
					t.Fatalf("got %d articles, %v; want %d", len(arts), err, tc.n)
				}
				if arts[1].Source != "a.jsonl:3" {
					t.Errorf("source = %q, want a.jsonl:3", arts[1].Source)
				}
				return
			}
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("err = %v, want %v containing %q", err, tc.want, tc.msg)
			}
		})
	}
}

func TestLoadDir(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("power/a.md", goodMD)
	write("README.md", "not an article")
	write("notes.txt", "ignored")
	write("en.jsonl", `{"id":"en-1","title":"t","product":"phone","intents":["x"],"language":"en","body":"b"}`+"\n")
	arts, err := LoadDir(dir, Limits{})
	if err != nil || len(arts) != 2 {
		t.Fatalf("LoadDir = %d articles, %v", len(arts), err)
	}
	write("power/dup.md", goodMD)
	_, err = LoadDir(dir, Limits{})
	if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "power/dup.md") || !strings.Contains(err.Error(), "also used by power/a.md") {
		t.Fatalf("duplicate id: err = %v", err)
	}
	os.Remove(filepath.Join(dir, "power/dup.md"))
	if _, err := LoadDir(dir, Limits{MaxUploadBytes: 100}); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversized folder: err = %v, want ErrTooLarge", err)
	}
}

// The demo KB shipped in data/kb must always load.
func TestDemoKBLoads(t *testing.T) {
	arts, err := LoadDir(filepath.Join("..", "..", "data", "kb", "articles"), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if len(arts) < 60 {
		t.Fatalf("demo KB has %d articles, want at least 60", len(arts))
	}
	langs := map[string]int{}
	for _, a := range arts {
		langs[a.Language]++
	}
	if langs["zh"] == 0 || langs["en"] == 0 {
		t.Fatalf("demo KB languages: %v", langs)
	}
}

func FuzzParseArticle(f *testing.F) {
	f.Add([]byte(goodMD), false)
	f.Add([]byte("---\nid: a\n---\n"), false)
	f.Add([]byte("---\n: [\n---\nbody"), false)
	f.Add([]byte(`{"id":"a","title":"t","product":"p","intents":["i"],"language":"en","body":"b"}`), true)
	f.Add([]byte("{\"id\":1}\n\n{"), true)
	f.Fuzz(func(t *testing.T, data []byte, jsonl bool) {
		lim := Limits{MaxArticleBytes: 4096, MaxUploadBytes: 8192, MaxArticles: 20}
		var arts []Article
		var err error
		if jsonl {
			arts, err = ParseJSONL("f.jsonl", strings.NewReader(string(data)), lim)
		} else {
			var a Article
			a, err = ParseMarkdown("f.md", data, lim)
			if err == nil {
				arts = []Article{a}
			}
		}
		if err != nil {
			var pe *ParseError
			if errors.As(err, &pe) && !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("ParseError without a sentinel: %v", err)
			}
			return
		}
		for _, a := range arts {
			if a.ID == "" || a.Title == "" || len(a.Intents) == 0 || strings.TrimSpace(a.Body) == "" || !articleLanguages[a.Language] {
				t.Fatalf("accepted an invalid article: %+v", a)
			}
			for _, c := range ChunkArticle(a, ChunkOptions{MaxTokens: 32, Overlap: 8}) {
				if c.ArticleID != a.ID || strings.TrimSpace(c.Text) == "" {
					t.Fatalf("bad chunk %+v", c)
				}
				if n := EstimateTokens(c.Text); n > 32+8+1 {
					t.Fatalf("chunk of %d tokens over a budget of 32", n)
				}
			}
		}
	})
}
