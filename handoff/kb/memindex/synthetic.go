package memindex

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/callbrief/callbrief/handoff/kb"
)

// Synthetic makes n records of dimension dim for benchmarks and tests:
// unit vectors drawn around 64 topic centres (real embeddings cluster, and
// a clustered set is the harder case for a quantised scan), spread over
// the demo KB's products, languages and intents, each with a small sparse
// vector. The same seed gives the same records.
func Synthetic(n, dim int, seed uint64) []kb.Record {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	const topics = 64
	centres := make([][]float32, topics)
	for i := range centres {
		centres[i] = unit(rng, dim, nil, 0)
	}
	products := []string{"phone", "smart_home", "wearable", "accessory", kb.GeneralProduct}
	langs := []string{"zh", "en"}
	intents := []string{"device_power_boot", "data_loss_recovery", "hardware_fault", "network_sim", "smart_home_setup",
		"wearable_sync", "account_device_unlock", "order_status", "repair_progress", "warranty_return_refund", "accessory_purchase"}
	recs := make([]kb.Record, n)
	for i := range recs {
		topic := rng.IntN(topics)
		art := fmt.Sprintf("syn-%06d", i/4)
		recs[i] = kb.Record{
			Chunk: kb.Chunk{
				ID: fmt.Sprintf("%s#%d", art, i%4), ArticleID: art, Ord: i % 4,
				Title: "synthetic " + art, Text: "synthetic chunk",
				Product: products[topic%len(products)], Language: langs[i%2], Intents: []string{intents[topic%len(intents)]},
			},
			Dense: unit(rng, dim, centres[topic], 0.35),
		}
		var sp kb.SparseVector
		base := uint32(rng.IntN(1 << 18))
		for k := range 12 {
			sp.Indices = append(sp.Indices, base+uint32(k*7))
			sp.Values = append(sp.Values, float32(1/math.Sqrt(12)))
		}
		recs[i].Sparse = sp
	}
	return recs
}

// unit draws a random unit vector, near centre (by noise) when given.
func unit(rng *rand.Rand, dim int, centre []float32, noise float64) []float32 {
	v := make([]float32, dim)
	var n float64
	for i := range v {
		x := rng.NormFloat64()
		if centre != nil {
			x = float64(centre[i]) + noise*x/math.Sqrt(float64(dim))
		}
		v[i] = float32(x)
		n += x * x
	}
	for i := range v {
		v[i] /= float32(math.Sqrt(n))
	}
	return v
}

// SyntheticQueries makes m query vectors near records of recs (a record
// plus noise, renormalised), as a caller's query lands near the passages
// that answer it.
func SyntheticQueries(recs []kb.Record, m int, seed uint64) [][]float32 {
	rng := rand.New(rand.NewPCG(seed, 0x9e11))
	out := make([][]float32, m)
	for i := range out {
		out[i] = unit(rng, len(recs[0].Dense), recs[rng.IntN(len(recs))].Dense, 0.5)
	}
	return out
}
