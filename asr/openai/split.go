package openai

import (
	"time"

	"github.com/callbrief/callbrief/media"
)

// A long turn is cut into pieces decoded at once on different servers of
// the pool. A Whisper server decodes one request at a time, and a request's
// time grows with its audio (about 0.1 s per second of speech for
// whisper-base on one core), so a caller who speaks for 15 s without
// pausing waits 1.5 s for the brief on one server; cut in two and sent to
// two servers, half that. With one server nothing is gained, so nothing is
// cut. Cuts fall in the quietest stretch near each even split (a breath
// between phrases): the endpointer ends a turn only after a long pause, so
// a long turn holds shorter ones.

const (
	// DefaultSplitAbove is the served default of Config.SplitAbove.
	DefaultSplitAbove = 8 * time.Second
	// minPiece is the shortest piece a cut leaves: Whisper needs context
	// (a piece of a word or two decodes badly), and a speech server
	// encodes at least 5 s anyway.
	minPiece = 4 * time.Second
	// quietWindow is the stretch whose energy rates a cut point: long
	// enough to be a pause between words, not the gap inside a syllable.
	quietWindow = 150 * time.Millisecond
	// quietHop is the step between candidate cut points.
	quietHop = 10 * time.Millisecond
)

// pieceCount is how many pieces an utterance of n samples is decoded in
// with servers healthy servers: one unless it is longer than splitAbove,
// then as many as there are servers, each at least minPiece.
func pieceCount(n int, splitAbove time.Duration, servers int) int {
	if splitAbove <= 0 || servers < 2 {
		return 1
	}
	d := time.Duration(n) * time.Second / media.Rate16k
	if d <= splitAbove {
		return 1
	}
	return max(1, min(servers, int(d/minPiece)))
}

// pauseBelow is how much quieter than the utterance's average a stretch
// must be to count as a pause (10 dB): a cut anywhere else would split a
// word, which Whisper then garbles on both sides.
const pauseBelow = 10

// quietCuts returns the k-1 sample indexes where samples is cut into k
// pieces: for each even split point, the middle of the quietest
// quietWindow within a third of a piece of it (the nearest on a tie), and
// no piece shorter than minPiece. When one of them finds no pause there,
// it returns nil: the utterance is sent whole. The choice depends on the
// audio alone, so a recording is cut the same way every time it is heard
// (as long as the pool has as many servers up).
func quietCuts(samples []int16, k int) []int {
	n := len(samples)
	if k < 2 || n == 0 {
		return nil
	}
	win := int(quietWindow * media.Rate16k / time.Second)
	hop := int(quietHop * media.Rate16k / time.Second)
	minLen := int(minPiece * media.Rate16k / time.Second)
	// energy[i] is the sum of squares of samples[:i].
	energy := make([]int64, n+1)
	for i, s := range samples {
		energy[i+1] = energy[i] + int64(s)*int64(s)
	}
	// A window's energy at the utterance's average, over pauseBelow.
	// (Multiplied before dividing: near-silent audio keeps its threshold.
	// 60 s at full scale sums to about 1e15, times win about 2.5e18.)
	pause := energy[n] * int64(win) / (int64(n) * pauseBelow)
	piece := n / k
	reach := piece / 3
	cuts := make([]int, 0, k-1)
	prev := 0
	for c := 1; c < k; c++ {
		ideal := c * piece
		lo := max(ideal-reach, prev+minLen)
		hi := min(ideal+reach, n-(k-c)*minLen)
		best, bestE, bestDist := ideal, int64(-1), 0
		for mid := lo; mid <= hi; mid += hop {
			a, b := max(0, mid-win/2), min(n, mid+win/2)
			e := energy[b] - energy[a]
			dist := abs(mid - ideal)
			if bestE < 0 || e < bestE || e == bestE && dist < bestDist {
				best, bestE, bestDist = mid, e, dist
			}
		}
		if bestE < 0 || bestE > pause {
			return nil
		}
		best = min(max(best, prev+1), n-1)
		cuts = append(cuts, best)
		prev = best
	}
	return cuts
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
