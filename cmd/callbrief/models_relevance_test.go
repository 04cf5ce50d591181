package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/callbrief/callbrief/internal/testenv"
	"github.com/callbrief/callbrief/models"
	"github.com/callbrief/callbrief/nlu/relevance"
)

// TestShippedBackgroundReproducible: built again from the corpora (the
// news corpus from the model cache, fetched and checked if absent; the
// shared ones beside the repository), the relevance background must come
// out byte for byte the file the binary carries. A change to the
// features or the data not followed by
// `callbrief models train --models relevance --relevance-out nlu/relevance/background.cbrb`
// fails here.
func TestShippedBackgroundReproducible(t *testing.T) {
	root := testenv.SharedData(t, "")
	cache, err := models.NewCache(models.DefaultCacheDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	srcs, err := backgroundSources(context.Background(), cache, root)
	if err != nil {
		t.Fatal(err)
	}
	shipped, err := relevance.DefaultBackground()
	if err != nil {
		t.Fatal(err)
	}
	for i, d := range shipped.Sources {
		if i >= len(srcs) || srcs[i].Name != d.Name || srcs[i].SHA256 != d.SHA256 {
			t.Fatalf("built-in background's source %d (%s %s) differs from the data at hand; rebuild it", i, d.Name, d.SHA256)
		}
	}
	bg, err := relevance.BuildBackground(srcs, shipped.Bits)
	if err != nil {
		t.Fatal(err)
	}
	b, err := bg.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, relevance.EmbeddedBytes()) {
		t.Fatal("nlu/relevance/background.cbrb is not what the corpora and code build; run: callbrief models train --models relevance --relevance-out nlu/relevance/background.cbrb")
	}
}
