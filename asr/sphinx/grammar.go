package sphinx

import (
	"bufio"
	"fmt"
	"os"
	"strings"

	"github.com/callbrief/callbrief/asr"
)

// Words each constrained mode may hear, and what they normalise to.
var (
	digitWords = map[string]string{
		"zero": "0", "oh": "0", "one": "1", "two": "2", "three": "3", "four": "4",
		"five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9",
	}
	yesNoWords = map[string]string{
		"yes": "yes", "yeah": "yes", "yep": "yes", "correct": "yes", "right": "yes",
		"no": "no", "nope": "no",
	}
)

// Grammar word order is fixed so that the JSGF text (and thus the compiled
// search) is the same on every run.
var digitOrder = []string{"zero", "oh", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"}

// Yes/no grammar. Besides the bare answers it takes a few polite
// phrases whose extra words normalise to nothing ("no thanks" -> "no"),
// and a garbage loop for anything else. Phrases containing "not" are left
// out on purpose: "not right" must never come out as "yes". The loop is
// spelt <garbage> <garbage>* because with "<garbage>+" in the public rule
// sphinxbase built a search in which garbage could run on into "no".
const yesNoGrammar = `#JSGF V1.0;
grammar yesno;
public <answer> = <yes> | <no> | <junk>;
<junk> = <garbage> <garbage>*;
<yes> = yes [please] | yeah | yep | correct | right | that's right | that's correct | yes it is;
<no> = no [thanks | thank you] | nope;
`

// yesNoVocab is every word of yesNoGrammar except the garbage.
var yesNoVocab = []string{"yes", "please", "yeah", "yep", "correct", "right", "that's", "it", "is", "no", "thanks", "thank", "you", "nope"}

// garbagePhones are the CMU phones. The yes/no grammar's garbage rule is a
// loop of one-phone pseudo-words ("gbg_aa") that absorbs speech outside
// the grammar, so that "maybe later" or line noise is not forced onto
// "yes" or "no". Each garbage phone carries the weight garbagePenalty,
// which sets how much better than the answers' own phones the loop must
// fit before it wins.
var garbagePhones = strings.Fields("AA AE AH AO AW AY B CH D DH EH ER EY F G HH IH IY JH K L M N NG OW OY P R S SH T TH UH UW V W Y Z ZH")

const garbagePrefix = "gbg_"

// garbagePenalty was chosen on synthetic speech (espeak-ng, four voices)
// and real non-answers from pocketsphinx-testdata. With it,
// TestYesNoSynthetic recognises 34 of 40 answers and accepts 2 of 16 other
// utterances, and TestYesNoRejectsRealSpeech accepts 0 of 14 clips;
// without the garbage rule the answers are 40 of 40 but 16 of 16 and 13
// of 14 non-answers come out as "yes" or "no". A larger weight (1e-8)
// rejects more, answers included; a smaller one (1e-20) accepts more.
const garbagePenalty = 1e-12

func garbageWords() []dictEntry {
	out := make([]dictEntry, len(garbagePhones))
	for i, p := range garbagePhones {
		out[i] = dictEntry{word: garbagePrefix + strings.ToLower(p), phones: p}
	}
	return out
}

// garbageRule is the JSGF rule <garbage>. sphinxbase does not normalise
// the weights of alternatives, so each weight acts as a per-phone penalty.
func garbageRule() string {
	alts := make([]string, len(garbagePhones))
	for i, p := range garbagePhones {
		alts[i] = fmt.Sprintf("/%g/ %s%s", garbagePenalty, garbagePrefix, strings.ToLower(p))
	}
	return "<garbage> = " + strings.Join(alts, " | ") + ";\n"
}

// grammar is a constrained mode's search: JSGF text, the dictionary words
// it uses, pseudo-words added for it, and extra decoder arguments.
type grammar struct {
	jsgf  string
	vocab []string
	extra []dictEntry
	args  []string
}

func grammarFor(m asr.Mode) grammar {
	switch m {
	case asr.ModeDigits:
		return grammar{
			jsgf: "#JSGF V1.0;\ngrammar digits;\npublic <digits> = <digit>+;\n<digit> = " +
				strings.Join(digitOrder, " | ") + ";\n",
			vocab: digitOrder,
			// A stronger word insertion penalty than the default 0.65:
			// one-phone "oh" crept in between digits. TestDigitsSynthetic:
			// digit error rate 0.098 and 25 of 40 strings exactly right,
			// against 0.245 and 13 of 40 at the default.
			args: []string{"-wip", "0.01"},
		}
	case asr.ModeYesNo:
		return grammar{
			jsgf:  yesNoGrammar + garbageRule(),
			vocab: yesNoVocab,
			extra: garbageWords(),
		}
	}
	return grammar{}
}

// dictEntry is one pronunciation from a CMU-format dictionary.
type dictEntry struct {
	word   string // as in the dictionary, alternates keep their "(2)" suffix
	phones string
}

// lookupWords reads the pronunciations of vocab (all alternates) from a
// CMU-format dictionary ("word(2) P H O N E S" per line).
func lookupWords(path string, vocab []string) ([]dictEntry, error) {
	want := make(map[string]bool, len(vocab))
	for _, w := range vocab {
		want[w] = true
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []dictEntry
	found := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		word, phones, ok := strings.Cut(strings.TrimSpace(sc.Text()), " ")
		if !ok {
			continue
		}
		base := baseWord(word)
		if !want[base] {
			continue
		}
		found[base] = true
		out = append(out, dictEntry{word: word, phones: strings.Join(strings.Fields(phones), " ")})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("sphinx: reading %s: %w", path, err)
	}
	var missing []string
	for _, w := range vocab {
		if !found[w] {
			missing = append(missing, w)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("sphinx: dictionary %s lacks %s", path, strings.Join(missing, ", "))
	}
	return out, nil
}

// baseWord strips an alternate-pronunciation marker: "zero(2)" -> "zero".
func baseWord(w string) string {
	if i := strings.IndexByte(w, '('); i > 0 && strings.HasSuffix(w, ")") {
		return w[:i]
	}
	return w
}

// isFiller reports whether w is a silence, noise or sentence marker such as
// <s>, </s>, <sil>, [NOISE], [SPEECH] or ++BREATH++.
func isFiller(w string) bool {
	return w == "" || w[0] == '<' || w[0] == '[' || w[0] == '+' || w[0] == '(' || strings.HasPrefix(w, garbagePrefix)
}

// normalizeWord maps a recognised word to its output token for mode m:
// fillers and words outside the mode's vocabulary give "".
func normalizeWord(m asr.Mode, w string) string {
	w = baseWord(w)
	if isFiller(w) {
		return ""
	}
	switch m {
	case asr.ModeDigits:
		return digitWords[strings.ToLower(w)]
	case asr.ModeYesNo:
		return yesNoWords[strings.ToLower(w)]
	}
	return w
}

// joinTokens builds the text of mode m from normalised tokens: digits run
// together ("4821"), a yes/no answer is its last token, free text is
// space-separated.
func joinTokens(m asr.Mode, toks []string) string {
	switch m {
	case asr.ModeDigits:
		return strings.Join(toks, "")
	case asr.ModeYesNo:
		if len(toks) == 0 {
			return ""
		}
		return toks[len(toks)-1]
	}
	return strings.Join(toks, " ")
}

// normalizeHyp turns a hypothesis string into the text of mode m.
func normalizeHyp(m asr.Mode, hyp string) string {
	var toks []string
	for _, w := range strings.Fields(hyp) {
		if t := normalizeWord(m, w); t != "" {
			toks = append(toks, t)
		}
	}
	return joinTokens(m, toks)
}
