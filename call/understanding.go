package call

// Understanding types: what the caller needs (intent and slots), how urgent
// it is, and which language or Chinese variety they speak. Routing and the
// agent's brief read these; nlu and classifier produce them.

// Intent names one entry of the hotline's taxonomy (or of an evaluation
// dataset's label set), e.g. "device_power_boot".
type Intent string

// IntentOutOfScope is the answer when the caller's need is not one the
// hotline's taxonomy covers, or when the classifier is not confident enough
// to name one. Routing sends such calls to a general queue.
const IntentOutOfScope Intent = "out_of_scope"

// IntentScore is one candidate intent with its calibrated probability.
type IntentScore struct {
	Intent     Intent  `json:"intent"`
	Confidence float64 `json:"confidence"` // 0..1, calibrated
}

// IntentResult is the classification of one utterance.
type IntentResult struct {
	Intent Intent `json:"intent"`
	// Confidence is the calibrated probability of Intent. For an
	// out-of-scope answer chosen by rejection it is the top in-scope
	// probability that fell under the threshold.
	Confidence float64 `json:"confidence"`
	// Alternatives are the top-k candidates, best first; Intent is first
	// unless a rule or a rejection overrode the model.
	Alternatives []IntentScore `json:"alternatives,omitempty"`
	// Rejected is true when the model's best guess scored under the
	// out-of-scope threshold and Intent was set to IntentOutOfScope.
	Rejected bool `json:"rejected,omitempty"`
	// Rule names the safety rule that forced Intent (emergency phrases),
	// empty when the model decided.
	Rule string `json:"rule,omitempty"`
	// Engine names the classifier that produced the result ("embedded",
	// "llm", "llm-fallback:embedded").
	Engine string `json:"engine,omitempty"`
	// Refined says the turn was classified a second time just before the
	// handoff, with the embedding that was late for the first answer
	// (nlu.Refiner); Engine is then the second answer's.
	Refined bool `json:"refined,omitempty"`
	// Relevance is how much more the utterance's words belong to the
	// hotline's language than to general language (mean log-likelihood
	// ratio; nil when no relevance model ran), and OffTopic says it fell
	// under the threshold, which files the turn out of scope unless an
	// emergency phrase was heard.
	Relevance *float64 `json:"relevance,omitempty"`
	OffTopic  bool     `json:"off_topic,omitempty"`
}

// SlotKind is the type of a value extracted from what the caller said.
type SlotKind string

// Slot kinds.
const (
	SlotPhone        SlotKind = "phone"
	SlotOrderNumber  SlotKind = "order_number"
	SlotIMEI         SlotKind = "imei"
	SlotSerialNumber SlotKind = "serial_number"
	SlotDeviceModel  SlotKind = "device_model"
	SlotDate         SlotKind = "date"
)

// Slot is one extracted value. Value is normalised (digits only for
// numbers, "Xiaomi 14 Pro" for a model, YYYY-MM-DD for a date); Text is
// the span as the recognizer wrote it, so the agent can check it.
type Slot struct {
	Kind  SlotKind `json:"kind"`
	Value string   `json:"value"`
	Text  string   `json:"text"`
	// Valid is false when the value has the right shape but fails its
	// check (an IMEI with a bad Luhn digit, a mobile number with a prefix
	// no carrier uses); the brief shows it as "heard, to confirm".
	Valid bool   `json:"valid"`
	Note  string `json:"note,omitempty"` // e.g. "mobile", "landline", "relative date"
}

// UrgencyLevel orders calls for routing priority.
type UrgencyLevel int

// Urgency levels. Emergency jumps every queue and skips non-critical
// verification (personal safety or a data leak in progress).
const (
	UrgencyNormal    UrgencyLevel = 0
	UrgencyElevated  UrgencyLevel = 1 // frustration, repeat call
	UrgencyHigh      UrgencyLevel = 2 // anger, complaint threat, device dead with urgent need
	UrgencyEmergency UrgencyLevel = 3 // personal safety, fraud or data leak in progress
)

// String names the level for briefs and logs.
func (u UrgencyLevel) String() string {
	switch u {
	case UrgencyNormal:
		return "normal"
	case UrgencyElevated:
		return "elevated"
	case UrgencyHigh:
		return "high"
	case UrgencyEmergency:
		return "emergency"
	}
	return "unknown"
}

// Emotion is the caller's apparent state as read from the words.
type Emotion string

// Emotions detected from text.
const (
	EmotionNeutral    Emotion = "neutral"
	EmotionFrustrated Emotion = "frustrated"
	EmotionAngry      Emotion = "angry"
	EmotionDistressed Emotion = "distressed" // fear, panic: usually with an emergency
)

// Urgency is how urgent a call is and why.
type Urgency struct {
	Level   UrgencyLevel `json:"level"`
	Emotion Emotion      `json:"emotion"`
	// RepeatCall is the number of times the caller says they have called
	// about this (0 when not said).
	RepeatCall int `json:"repeat_call,omitempty"`
	// Reasons are short human-readable cues, e.g. `emergency: "冒烟"`.
	Reasons []string `json:"reasons,omitempty"`
}

// Script is the writing system of Chinese text.
type Script string

// Scripts.
const (
	ScriptNone        Script = ""            // no Chinese characters
	ScriptSimplified  Script = "simplified"  // mainland
	ScriptTraditional Script = "traditional" // Hong Kong, Macau, Taiwan
	ScriptAmbiguous   Script = "ambiguous"   // only characters shared by both
)

// LanguageScore is one candidate language with its probability.
type LanguageScore struct {
	Language   Language `json:"language"`
	Confidence float64  `json:"confidence"`
}

// LanguageResult is the language and, for Chinese, the variety of an
// utterance.
type LanguageResult struct {
	// Language is a served language or variety (en, cmn, yue, wuu, zh for
	// another Chinese variety), or LangUndetermined when the text is too
	// short or the evidence too weak.
	Language     Language        `json:"language"`
	Confidence   float64         `json:"confidence"`
	Script       Script          `json:"script,omitempty"`
	Alternatives []LanguageScore `json:"alternatives,omitempty"`
	// Source says what decided: "text", "asr-tag", "text+asr-tag".
	Source string `json:"source,omitempty"`
	// Unsure marks a Chinese text whose variety the model could not name
	// with confidence: Language is then zh because no variety was named,
	// not because the text reads as another Chinese variety.
	Unsure bool `json:"unsure,omitempty"`
}
