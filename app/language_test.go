package app

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/callbrief/callbrief/classifier"
)

// TestLanguageIdentifierServesBuiltModel: without a configured file the
// service runs the model `callbrief models train` built (it names its
// data), and a configured file that cannot be read stops the start
// instead of silently serving another model.
func TestLanguageIdentifierServesBuiltModel(t *testing.T) {
	ctx := context.Background()
	id, err := LanguageIdentifier(ctx, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(id.Variety().Data) == 0 {
		t.Error("served variety model names no data: not the built one")
	}
	_, err = LanguageIdentifier(ctx, filepath.Join(t.TempDir(), "absent.cbvm"), nil)
	if !errors.Is(err, classifier.ErrModel) {
		t.Errorf("absent model file: %v", err)
	}
}
