// Package call holds the domain types every stage of callbrief shares: what
// was said (Transcript, Segment, Word), in which language, and later who is
// calling and what they need. It imports only the standard library so that
// any stage can depend on it without pulling in another stage.
package call

import (
	"strings"
	"time"
)

// Language is a BCP-47 style tag. Chinese varieties use their ISO 639-3
// codes (cmn, yue, wuu) because "zh" alone does not tell the dialect line
// which agents to use.
type Language string

// Languages the hotline serves. LangUndetermined means the evidence was too
// weak to decide; it is a valid answer, not an error.
const (
	LangUndetermined Language = "und"
	LangEnglish      Language = "en"
	LangChinese      Language = "zh"  // Chinese, variety not known
	LangMandarin     Language = "cmn" // Mandarin / Putonghua
	LangCantonese    Language = "yue" // Cantonese
	LangWu           Language = "wuu" // Wu, including Shanghainese
)

// IsChinese reports whether l is Chinese or one of its varieties.
func (l Language) IsChinese() bool {
	switch l {
	case LangChinese, LangMandarin, LangCantonese, LangWu:
		return true
	}
	return false
}

// Word is one recognised word (or character, for Chinese) with its timing
// relative to the start of the call's audio.
type Word struct {
	Text       string        `json:"text"`
	Start      time.Duration `json:"start"`
	End        time.Duration `json:"end"`
	Confidence float64       `json:"confidence"` // 0..1; 0 when the engine gives none
}

// Segment is one recognised utterance. A partial segment may still change;
// a final one never does.
type Segment struct {
	Text       string        `json:"text"`
	Start      time.Duration `json:"start"`
	End        time.Duration `json:"end"`
	Words      []Word        `json:"words,omitempty"`
	Confidence float64       `json:"confidence"`         // 0..1; 0 when the engine gives none
	Language   Language      `json:"language,omitempty"` // empty when the engine does not tag
	// LanguageConfidence is how sure the engine was of Language, 0..1: a
	// multilingual recognizer's own spoken-language detection (1 when it
	// was told the language); 0 when the engine gives none.
	LanguageConfidence float64 `json:"language_confidence,omitempty"`
	Final              bool    `json:"final"`
	Engine             string  `json:"engine,omitempty"`
}

// Transcript is the ordered list of final segments of one call.
type Transcript struct {
	CallID   string    `json:"call_id"`
	Segments []Segment `json:"segments"`
}

// Text joins the segments' text. Chinese segments are joined without a space
// because Chinese is written without spaces between words.
func (t Transcript) Text() string {
	var b strings.Builder
	for i, s := range t.Segments {
		if i > 0 && !(s.Language.IsChinese() && t.Segments[i-1].Language.IsChinese()) {
			b.WriteByte(' ')
		}
		b.WriteString(s.Text)
	}
	return b.String()
}
