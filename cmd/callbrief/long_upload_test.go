package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/callbrief/callbrief/internal/testenv"
)

// TestLongUploadOnTwoServers posts a 30.6 s Cantonese recording (three
// turns, the first cut by the endpointer at 20 s) to a node running two
// real speech servers: the turns are recognised at once, the long one cut
// at a pause into a piece for each server, and the brief's transcript
// comes back whole and in order, with both servers having served it.
func TestLongUploadOnTwoServers(t *testing.T) {
	clip := filepath.Join(testenv.SharedData(t, "speech-zh"), "yue_wsyue_xg0054024_52710_82710.wav")
	wav, err := os.ReadFile(clip)
	if err != nil {
		t.Fatal(err)
	}
	ls := startLive(t, "--set", "asr.speechserver.count=2", "--set", "asr.speechserver.threads=1", "--set", "log.level=warn")
	var ready struct {
		ASR        string `json:"asr"`
		Recognizer struct {
			Pool []struct {
				Served int `json:"served"`
			} `json:"pool"`
		} `json:"recognizer"`
	}
	readyz := func() {
		resp, err := http.Get(ls.base + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if err := json.NewDecoder(resp.Body).Decode(&ready); err != nil {
			t.Fatal(err)
		}
	}
	readyz()
	if !strings.HasPrefix(ready.ASR, "openai:") {
		t.Skipf("the speech server is not installed (asr %q): run speechserver/setup.sh; CI has it", ready.ASR)
	}
	resp := post(t, ls.base+"/v1/calls?caller=%2B85291234567", wav)
	var res struct {
		Brief struct {
			Transcript struct {
				Segments []struct {
					Text  string        `json:"text"`
					Start time.Duration `json:"start"`
				} `json:"segments"`
			} `json:"transcript"`
		} `json:"brief"`
	}
	err = json.NewDecoder(resp.Body).Decode(&res)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || err != nil {
		t.Fatalf("upload: %d %v", resp.StatusCode, err)
	}
	segs := res.Brief.Transcript.Segments
	var b strings.Builder
	for _, s := range segs {
		fmt.Fprintf(&b, "\n  %v: %s", s.Start, s.Text)
	}
	// Three turns, the 20 s one in two pieces: four finals, in the
	// order spoken, reaching the last turn (from 22.5 s on).
	if len(segs) < 4 {
		t.Fatalf("%d segments, want the three turns with the long one cut (4):%s", len(segs), b.String())
	}
	for i := 1; i < len(segs); i++ {
		if segs[i].Start < segs[i-1].Start || segs[i].Text == "" {
			t.Fatalf("segments out of order or empty:%s", b.String())
		}
	}
	if segs[len(segs)-1].Start < 22*time.Second {
		t.Fatalf("the last turn is missing:%s", b.String())
	}
	readyz()
	if len(ready.Recognizer.Pool) != 2 || ready.Recognizer.Pool[0].Served == 0 || ready.Recognizer.Pool[1].Served == 0 {
		t.Fatalf("pool %+v: want both servers to have served the upload", ready.Recognizer.Pool)
	}
}
