// Package nlu understands what a caller says: the intent (what they need),
// the slots (numbers, models, dates) and the urgency. The intent engine is
// swappable behind IntentClassifier: an embedded linear model trained in Go
// (the default, no network) or an LLM behind an OpenAI-compatible API
// (nlu/llm), which falls back to the embedded one.
package nlu

import (
	"context"
	"errors"
	"time"

	"github.com/callbrief/callbrief/call"
)

// Errors.
var (
	// ErrEmptyText means there was nothing to classify (empty, only
	// spaces, or only bytes that are not valid UTF-8).
	ErrEmptyText = errors.New("nlu: empty text")
	// ErrModel means the model could not be trained or loaded.
	ErrModel = errors.New("nlu: model")
)

// IntentClassifier names the caller's need.
//
// Classify returns the best intent with its calibrated confidence and the
// top alternatives. An utterance the classifier cannot place returns
// call.IntentOutOfScope with Rejected set, not an error; errors are for
// empty input (ErrEmptyText), a cancelled context, or a broken engine.
// lang is the language of the text when known (LangUndetermined
// otherwise); engines may use it as a hint. Implementations are safe for
// concurrent use.
type IntentClassifier interface {
	Classify(ctx context.Context, text string, lang call.Language) (call.IntentResult, error)
	// Name identifies the engine in results and logs.
	Name() string
	Close() error
}

// Refiner is a classifier whose first answer may have been given without
// its slower half (the e5 embedding, when it was later than its wait): the
// call goes on with that answer, and before the handoff Refine answers
// again once the slower half is ready, waiting at most wait. ok is false
// when there is nothing better than the first answer.
type Refiner interface {
	Refine(ctx context.Context, text string, lang call.Language, wait time.Duration) (res call.IntentResult, ok bool, err error)
}

// MaxInputBytes bounds the text a classifier looks at. A caller's turn is a
// few sentences; anything longer is a recognizer run-on or pasted text, and
// its head says what the call is about.
const MaxInputBytes = 4096

// Clean makes outside text safe to classify: invalid UTF-8 dropped, cut to
// MaxInputBytes on a character boundary, surrounding space trimmed. It
// returns ErrEmptyText when nothing is left.
func Clean(text string) (string, error) {
	if len(text) > MaxInputBytes {
		cut := MaxInputBytes
		for cut > 0 && !utf8RuneStart(text[cut]) {
			cut--
		}
		text = text[:cut]
	}
	text = toValidUTF8(text)
	text = trimSpace(text)
	if text == "" {
		return "", ErrEmptyText
	}
	return text, nil
}
