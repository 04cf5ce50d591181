package kbdir

import (
	"context"
	"strings"

	"github.com/callbrief/callbrief/handoff"
	"github.com/callbrief/callbrief/handoff/kb"
)

// HandoffKB adapts a knowledge base to handoff.KB, the interface the brief
// builder calls. The call's intent is passed as a hint, not a filter: a
// misclassified call must still find its article, and "why" says when a
// suggestion answers the predicted intent.
type HandoffKB struct{ Base *kb.Base }

// Suggest implements handoff.KB.
func (h HandoffKB) Suggest(ctx context.Context, query string, f handoff.KBFilter, k int) ([]handoff.KBSuggestion, error) {
	res, err := h.Base.Suggest(ctx, kb.Lookup{Text: query, K: k, Filter: kb.Filter{Product: f.Product, Language: f.Language}, Intent: f.Intent})
	if err != nil {
		return nil, err
	}
	out := make([]handoff.KBSuggestion, len(res.Suggestions))
	for i, s := range res.Suggestions {
		out[i] = handoff.KBSuggestion{ArticleID: s.ArticleID, Title: s.Title, Score: float64(s.Score),
			Why: strings.Join(s.Why, "; "), Snippet: s.Snippet, Source: s.ChunkID}
	}
	return out, nil
}

var _ handoff.KB = HandoffKB{}
