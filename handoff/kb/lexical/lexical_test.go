package lexical

import (
	"context"
	"math"
	"testing"

	"github.com/callbrief/callbrief/handoff/kb"
)

func TestNormalize(t *testing.T) {
	tests := []struct{ in, want string }{
		{"我部手機開唔到機點算", "我部手机开不了机怎么办"},
		{"ＷｉＦｉ連唔到", "wifi连不上"},
		{"電池脹咗", "电池胀了"},
		{"Phone WON'T Charge", "phone won't charge"},
	}
	for _, tc := range tests {
		if got := Normalize(tc.in); got != tc.want {
			t.Errorf("Normalize(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

var corpus = []string{
	"手机无法开机 长按电源键强制重启 充电三十分钟",
	"智能摄像头配网失败 只支持2.4G WiFi 扫码添加",
	"电池鼓包 立即停止充电 远离易燃物",
	"Phone will not turn on: hold the power button and charge it",
	"Smart camera will not connect to Wi-Fi: use the 2.4 GHz network",
}

func TestSparseRanksTheRightDocument(t *testing.T) {
	m := Fit(corpus, 256)
	tests := []struct {
		query string
		want  int
	}{
		{"手机开不了机", 0},
		{"我部手機開唔到機", 0},   // Cantonese, traditional
		{"摄像头连不上wifi", 1}, // mixed script
		{"电池胀了鼓起来", 2},    // shares 电池/鼓
		{"my phone wont turn on", 3},
		{"camera cant conect to the wi-fi network", 4}, // misspelt: character trigrams still meet
	}
	for _, tc := range tests {
		q := m.Sparse(tc.query)
		best, bestScore := -1, float32(-1)
		for i, d := range corpus {
			if s := q.Dot(m.Sparse(d)); s > bestScore {
				best, bestScore = i, s
			}
		}
		if best != tc.want {
			t.Errorf("%q: best document %d (%.3f), want %d", tc.query, best, bestScore, tc.want)
		}
	}
}

func TestVectorsAreNormalised(t *testing.T) {
	m := Fit(corpus, 64)
	for _, s := range append(corpus, "x") {
		sp := m.Sparse(s)
		var n float64
		for i, v := range sp.Values {
			n += float64(v * v)
			if i > 0 && sp.Indices[i] <= sp.Indices[i-1] {
				t.Fatalf("%q: indices not ascending", s)
			}
		}
		if math.Abs(n-1) > 1e-4 {
			t.Errorf("%q: sparse norm² %.5f", s, n)
		}
		d := m.Dense(s)
		n = 0
		for _, v := range d {
			n += float64(v * v)
		}
		if len(d) != 64 || math.Abs(n-1) > 1e-4 {
			t.Errorf("%q: dense len %d norm² %.5f", s, len(d), n)
		}
	}
	if sp := m.Sparse("。，！"); len(sp.Indices) != 0 {
		t.Errorf("punctuation only gave %d features", len(sp.Indices))
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	m := Fit(corpus, 128)
	b, err := m.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	m2, err := Unmarshal(b)
	if err != nil {
		t.Fatal(err)
	}
	a, c := m.Sparse(corpus[0]), m2.Sparse(corpus[0])
	if a.Dot(c) < 0.9999 || m2.Dim() != 128 || m2.Docs() != len(corpus) {
		t.Fatalf("round trip changed the model: dot %.5f dim %d docs %d", a.Dot(c), m2.Dim(), m2.Docs())
	}
	for _, bad := range []string{"{", `{"version":2}`, `{"version":1,"dim":8,"keys":[1],"df":[]}`} {
		if _, err := Unmarshal([]byte(bad)); err == nil {
			t.Errorf("Unmarshal(%s) accepted", bad)
		}
	}
	e := Embedder{M: m}
	vs, err := e.Embed(context.Background(), corpus[:2], kb.Query)
	if err != nil || len(vs) != 2 || e.Dim() != 128 || e.Name() != "lexical-hash128" {
		t.Fatalf("embedder: %d vectors, %v, %s", len(vs), err, e.Name())
	}
}
