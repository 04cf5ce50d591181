package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"github.com/callbrief/callbrief/app"
	"github.com/callbrief/callbrief/call"
	"github.com/callbrief/callbrief/evals"
	"github.com/callbrief/callbrief/handoff/kb"
	"github.com/callbrief/callbrief/handoff/kb/e5"
	"github.com/callbrief/callbrief/handoff/kb/kbdir"
	kbopenai "github.com/callbrief/callbrief/handoff/kb/openai"
	"github.com/callbrief/callbrief/handoff/kb/qdrant"
	"github.com/callbrief/callbrief/models"
)

const kbUsage = `callbrief kb ingest DIR [--index PATH] [--embedder auto|e5|lexical|openai] [--hybrid=true]
callbrief kb search "QUERY" [--index PATH] [--k 5] [--product X] [--lang zh] [--intent I] [--json]`

// kbFlags are the flags shared by kb ingest, kb search and eval retrieval:
// where the knowledge base lives and which engines it uses. An empty
// Qdrant address means the in-process index (the embedded default).
type kbFlags struct {
	index      string
	embedder   string
	qdrantAddr string
	collection string
	qdrantKey  string
	oaURL      string
	oaModel    string
	oaKey      string
	oaQuery    string
	oaPassage  string
}

func (k *kbFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&k.index, "index", "", "knowledge-base folder (default: <cache>/kb)")
	fs.StringVar(&k.embedder, "embedder", "auto", "auto (e5 when installed, else lexical), e5, lexical or openai")
	fs.StringVar(&k.qdrantAddr, "qdrant", "", "Qdrant gRPC address host:port; empty uses the in-process index")
	fs.StringVar(&k.collection, "collection", "callbrief_kb", "Qdrant collection")
	fs.StringVar(&k.qdrantKey, "qdrant-api-key", os.Getenv("CALLBRIEF_QDRANT_API_KEY"), "Qdrant API key (default $CALLBRIEF_QDRANT_API_KEY)")
	fs.StringVar(&k.oaURL, "openai-base-url", "", "OpenAI-compatible embeddings endpoint, e.g. https://api.openai.com/v1")
	fs.StringVar(&k.oaModel, "openai-model", "text-embedding-3-small", "embedding model of that endpoint")
	fs.StringVar(&k.oaKey, "openai-api-key", os.Getenv("CALLBRIEF_OPENAI_API_KEY"), "API key (default $CALLBRIEF_OPENAI_API_KEY)")
	fs.StringVar(&k.oaQuery, "openai-query-prefix", "", `prefix for queries (e.g. "query: " for e5 served remotely)`)
	fs.StringVar(&k.oaPassage, "openai-passage-prefix", "", "prefix for passages")
}

func (k *kbFlags) dir(c *common) string {
	if k.index != "" {
		return k.index
	}
	return app.KBDir(c.cfg.CacheDir, c.cfg.KB.Dir)
}

// openEmbedder returns the dense embedder by name; nil means the lexical
// one, which kbdir fits on the articles. "auto" takes e5 when its model is
// in the cache and says so when it falls back.
func (k *kbFlags) openEmbedder(ctx context.Context, c *common, name string) (kb.Embedder, error) {
	switch name {
	case "lexical":
		return nil, nil
	case "e5", "auto":
		cacheDir := c.cfg.CacheDir
		if cacheDir == "" {
			cacheDir = models.DefaultCacheDir()
		}
		cache, err := models.NewCache(cacheDir, c.log)
		if err != nil {
			return nil, err
		}
		e, err := e5.Open(ctx, e5.Options{Cache: cache, Logger: c.log})
		if err != nil && name == "auto" && errors.Is(err, models.ErrMissing) {
			c.log.Warn("e5 model not installed: using the lexical embedder", "reason", err)
			return nil, nil
		}
		return e, err
	case "openai":
		if k.oaURL == "" {
			return nil, fmt.Errorf("%w: --embedder openai needs --openai-base-url", errUsage)
		}
		return kbopenai.New(ctx, kbopenai.Options{BaseURL: k.oaURL, APIKey: k.oaKey, Model: k.oaModel, QueryPrefix: k.oaQuery, PassagePrefix: k.oaPassage})
	}
	return nil, fmt.Errorf("%w: unknown embedder %q (auto, e5, lexical or openai)", errUsage, name)
}

// embedderForMeta picks the embedder a built knowledge base needs.
func (k *kbFlags) embedderForMeta(ctx context.Context, c *common, m kbdir.Meta) (kb.Embedder, error) {
	switch {
	case strings.HasPrefix(m.Embedder, "lexical"):
		return nil, nil
	case strings.HasPrefix(m.Embedder, "openai:"):
		k.oaModel = strings.TrimPrefix(m.Embedder, "openai:")
		return k.openEmbedder(ctx, c, "openai")
	default:
		return k.openEmbedder(ctx, c, "e5")
	}
}

func (k *kbFlags) indexFactory(c *common) (kbdir.IndexFactory, string, error) {
	if k.qdrantAddr == "" {
		return nil, "", nil
	}
	host, portS, err := net.SplitHostPort(k.qdrantAddr)
	if err != nil {
		return nil, "", fmt.Errorf("%w: --qdrant %q: %w", errUsage, k.qdrantAddr, err)
	}
	port, err := strconv.Atoi(portS)
	if err != nil {
		return nil, "", fmt.Errorf("%w: --qdrant port %q", errUsage, portS)
	}
	f := func(ctx context.Context, dim int) (kb.Index, error) {
		return qdrant.New(ctx, qdrant.Options{Host: host, Port: port, APIKey: k.qdrantKey, Collection: k.collection, Dim: dim, Logger: c.log})
	}
	return f, fmt.Sprintf("qdrant %s/%s", k.qdrantAddr, k.collection), nil
}

// cmdKB runs `callbrief kb ingest|search`.
func cmdKB(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: %s", errUsage, kbUsage)
	}
	switch args[0] {
	case "ingest":
		return kbIngest(ctx, args[1:], stdout, stderr)
	case "search":
		return kbSearch(ctx, args[1:], stdout, stderr)
	}
	return fmt.Errorf("%w: %s", errUsage, kbUsage)
}

func kbIngest(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c common
	var k kbFlags
	fs := newFlagSet("kb ingest", &c, stderr)
	k.register(fs)
	hybrid := fs.Bool("hybrid", true, "add lexical sparse vectors to dense search (reciprocal-rank fusion)")
	maxTokens := fs.Int("chunk-tokens", 0, "chunk budget in estimated tokens (default 200)")
	overlap := fs.Int("chunk-overlap", 0, "tokens repeated between chunks (default 40)")
	pos, err := c.parse(fs, args, stderr)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("%w: callbrief kb ingest DIR", errUsage)
	}
	switch k.embedder {
	case "auto", "e5", "lexical", "openai":
	default:
		return fmt.Errorf("%w: unknown embedder %q (auto, e5, lexical or openai)", errUsage, k.embedder)
	}
	arts, err := kb.LoadDir(pos[0], kb.Limits{})
	if err != nil {
		return err
	}
	if len(arts) == 0 {
		return fmt.Errorf("%w: no *.md or *.jsonl articles in %s", kb.ErrMalformed, pos[0])
	}
	tax, err := app.Taxonomy(c.cfg)
	if err != nil {
		return err
	}
	if err := app.CheckArticles(tax, arts); err != nil {
		return err
	}
	emb, err := k.openEmbedder(ctx, &c, k.embedder)
	if err != nil {
		return err
	}
	if emb != nil {
		defer emb.Close()
	}
	newIndex, indexName, err := k.indexFactory(&c)
	if err != nil {
		return err
	}
	dir := k.dir(&c)
	base, meta, err := kbdir.Build(ctx, arts, kbdir.Options{Dir: dir, Dense: emb, Hybrid: *hybrid, NewIndex: newIndex, IndexName: indexName,
		Chunking: kb.ChunkOptions{MaxTokens: *maxTokens, Overlap: *overlap}, Logger: c.log})
	if err != nil {
		return err
	}
	base.Index.Close()
	fmt.Fprintf(stdout, "kb: %d articles, %d chunks, embedder %s (%d-d), hybrid %v, index %s, in %s\n",
		meta.Articles, meta.Chunks, meta.Embedder, meta.Dim, meta.Hybrid, meta.Index, dir)
	return nil
}

func kbSearch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c common
	var k kbFlags
	fs := newFlagSet("kb search", &c, stderr)
	k.register(fs)
	n := fs.Int("k", 5, "articles to return")
	product := fs.String("product", "", "only this product line (and general articles)")
	lang := fs.String("lang", "", "caller language: zh, yue, cmn, en (Chinese varieties read the zh articles)")
	intent := fs.String("intent", "", "only articles for this intent")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := c.parse(fs, args, stderr)
	if err != nil {
		return err
	}
	if len(pos) != 1 || strings.TrimSpace(pos[0]) == "" {
		return fmt.Errorf("%w: callbrief kb search \"QUERY\"", errUsage)
	}
	dir := k.dir(&c)
	meta, err := readMeta(dir)
	if err != nil {
		return err
	}
	emb, err := k.embedderForMeta(ctx, &c, meta)
	if err != nil {
		return err
	}
	if emb != nil {
		defer emb.Close()
	}
	newIndex, _, err := k.indexFactory(&c)
	if err != nil {
		return err
	}
	base, _, err := kbdir.Open(ctx, kbdir.Options{Dir: dir, Dense: emb, NewIndex: newIndex, Logger: c.log})
	if err != nil {
		return err
	}
	defer base.Index.Close()
	res, err := base.Suggest(ctx, kb.Lookup{Text: pos[0], K: *n, Filter: kb.Filter{Product: *product, Language: *lang, Intent: *intent}})
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	fmt.Fprintf(stdout, "%d suggestions (embed %.1f ms, search %.2f ms, %s)\n", len(res.Suggestions),
		float64(res.Embed.Microseconds())/1000, float64(res.Search.Microseconds())/1000, meta.Embedder)
	for i, s := range res.Suggestions {
		fmt.Fprintf(stdout, "\n%d. [%s] %s  (%s, %s, score %.4f)\n   %s\n   why: %s\n", i+1, s.ArticleID, s.Title, s.Product, s.Language, s.Score, s.Snippet, strings.Join(s.Why, "; "))
	}
	return nil
}

func readMeta(dir string) (kbdir.Meta, error) { return app.ReadKBMeta(dir) }

// retrievalSystem is one configuration evaluated by eval retrieval.
type retrievalSystem struct {
	name     string
	embedder string
	hybrid   bool
}

var retrievalSystems = map[string]retrievalSystem{
	"lexical":        {"lexical (hashed TF-IDF, 512-d)", "lexical", false},
	"lexical+sparse": {"lexical hashed + sparse TF-IDF (hybrid RRF)", "lexical", true},
	"e5":             {"e5-small (dense)", "e5", false},
	"e5+lexical":     {"e5-small + lexical (hybrid RRF)", "e5", true},
	"openai":         {"openai (dense)", "openai", false},
}

// cmdEvalRetrieval runs `callbrief eval retrieval`: it builds the demo (or
// given) knowledge base once per system in a scratch folder and scores
// each system on labelled queries. args may start with "retrieval".
func cmdEvalRetrieval(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "retrieval" {
		args = args[1:]
	}
	var c common
	var k kbFlags
	fs := newFlagSet("eval retrieval", &c, stderr)
	k.register(fs)
	queries := fs.String("queries", "data/kb/queries.jsonl", "labelled queries (JSONL: id, text, lang, relevant)")
	articles := fs.String("articles", "data/kb/articles", "knowledge-base articles to index")
	systems := fs.String("systems", "lexical,lexical+sparse,e5,e5+lexical", "comma-separated: lexical, lexical+sparse, e5, e5+lexical, openai")
	noLang := fs.Bool("no-lang-filter", false, "search every language instead of the caller's")
	intentMode := fs.String("intent", "served", "the caller's intent given to the search: served (the served classifier's answer for each query, as the brief passes it) or none")
	intentRanks := fs.Int("intent-ranks", 0, "ranks an article answering the intent moves up (0: the served default, -1: none)")
	noFold := fs.Bool("no-fold-dense", false, "embed Cantonese queries as said instead of folded to Mandarin (the served default folds)")
	out := fs.String("out", "", "folder to write retrieval.json and retrieval.md (default: print Markdown)")
	asJSON := fs.Bool("json", false, "print JSON instead of Markdown")
	if _, err := c.parse(fs, args, stderr); err != nil {
		return err
	}
	qs, err := evals.LoadRetrievalQueries(*queries)
	if err != nil {
		return err
	}
	arts, err := kb.LoadDir(*articles, kb.Limits{})
	if err != nil {
		return err
	}
	scratch, err := os.MkdirTemp("", "callbrief-eval-kb-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(scratch)
	intents := map[string]string{}
	switch *intentMode {
	case "none":
	case "served":
		eng, err := app.NewEngines(c.cfg, c.log)
		if err != nil {
			return err
		}
		defer eng.Close()
		under, err := eng.Understanding(ctx)
		if err != nil {
			return err
		}
		for _, q := range qs {
			r, err := under.Intents.Classify(ctx, q.Text, call.Language(q.Language))
			if err != nil {
				return fmt.Errorf("query %s: intent: %w", q.ID, err)
			}
			intents[q.ID] = string(r.Intent)
		}
	default:
		return fmt.Errorf("%w: --intent %q is not served or none", errUsage, *intentMode)
	}
	var reps []*evals.RetrievalReport
	for _, key := range strings.Split(*systems, ",") {
		sys, ok := retrievalSystems[strings.TrimSpace(key)]
		if !ok {
			return fmt.Errorf("%w: unknown system %q (lexical, lexical+sparse, e5, e5+lexical, openai)", errUsage, key)
		}
		rep, err := evalSystem(ctx, &c, &k, sys, arts, qs, *queries, filepath.Join(scratch, key), !*noLang, intents, *intentRanks, *noFold)
		if err != nil {
			return fmt.Errorf("%s: %w", sys.name, err)
		}
		reps = append(reps, rep)
	}
	md := evals.RetrievalMarkdown(reps)
	if *out != "" {
		if err := os.MkdirAll(*out, 0o755); err != nil {
			return err
		}
		js, _ := json.MarshalIndent(reps, "", "  ")
		if err := os.WriteFile(filepath.Join(*out, "retrieval.json"), js, 0o644); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(*out, "retrieval.md"), []byte(md), 0o644); err != nil {
			return err
		}
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(reps)
	}
	fmt.Fprint(stdout, md)
	return nil
}

func evalSystem(ctx context.Context, c *common, k *kbFlags, sys retrievalSystem, arts []kb.Article, qs []evals.RetrievalQuery, qname, dir string, langFilter bool, intents map[string]string, intentRanks int, noFold bool) (*evals.RetrievalReport, error) {
	emb, err := k.openEmbedder(ctx, c, sys.embedder)
	if err != nil {
		return nil, err
	}
	if emb != nil {
		defer emb.Close()
	}
	log := c.log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	base, meta, err := kbdir.Build(ctx, arts, kbdir.Options{Dir: dir, Dense: emb, Hybrid: sys.hybrid, Logger: log, IntentRanks: intentRanks, NoFoldDense: noFold})
	if err != nil {
		return nil, err
	}
	defer base.Index.Close()
	retrieve := func(ctx context.Context, q evals.RetrievalQuery) ([]string, error) {
		f := kb.Filter{Product: q.Product}
		if langFilter {
			f.Language = q.Language
		}
		res, err := base.Suggest(ctx, kb.Lookup{Text: q.Text, K: 10, Filter: f, Intent: intents[q.ID]})
		if err != nil {
			return nil, err
		}
		ids := make([]string, len(res.Suggestions))
		for i, s := range res.Suggestions {
			ids[i] = s.ArticleID
		}
		return ids, nil
	}
	name := fmt.Sprintf("%s, %d chunks", sys.name, meta.Chunks)
	if len(intents) > 0 && base.IntentRanks > 0 {
		name += fmt.Sprintf(", served intent +%d ranks", base.IntentRanks)
	}
	if base.FoldDense && base.Normalize != nil {
		name += ", Cantonese folded for e5"
	}
	rep, err := evals.RunRetrieval(ctx, name, qname, qs, retrieve)
	if err != nil {
		return nil, err
	}
	rep.Machine = fmt.Sprintf("%s/%s, %d cores", runtime.GOOS, runtime.GOARCH, runtime.NumCPU())
	return rep, nil
}
