package qdrant

// Qdrant itself cannot run here (no server binary or container on the
// build machine), so these tests run the real Qdrant Go client against an
// in-process gRPC server that implements the slice of Qdrant's API the
// client calls: collections (exists, get, create), payload indexes,
// upsert, delete by filter, count and the universal query (nearest dense
// or sparse, prefetch + RRF fusion, keyword payload filters). It embeds
// the generated Unimplemented servers, so any other call fails loudly.
// It is a stand-in for the server, not a model of its ANN internals:
// searches are exact.

import (
	"context"
	"fmt"
	"net"
	"slices"
	"sort"
	"sync"
	"testing"

	qc "github.com/qdrant/go-client/qdrant"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

type fakePoint struct {
	dense   []float32
	sparseI []uint32
	sparseV []float32
	payload map[string]*qc.Value
}

type fakeCollection struct {
	dim    uint64
	points map[string]*fakePoint
	order  []string // insertion order, for stable ties
}

// fakeQdrant holds the state; the three services are separate types
// because Qdrant's services share method names (Get, Delete, Create).
type fakeQdrant struct {
	mu   sync.Mutex
	cols map[string]*fakeCollection
	// queries records the last query, so tests can check what the client sent.
	last *qc.QueryPoints
}

func startFake(t *testing.T) (*fakeQdrant, int) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeQdrant{cols: map[string]*fakeCollection{}}
	srv := grpc.NewServer()
	qc.RegisterQdrantServer(srv, healthServer{})
	qc.RegisterCollectionsServer(srv, collectionsServer{f: f})
	qc.RegisterPointsServer(srv, pointsServer{f: f})
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	return f, lis.Addr().(*net.TCPAddr).Port
}

type healthServer struct{ qc.UnimplementedQdrantServer }

type collectionsServer struct {
	qc.UnimplementedCollectionsServer
	f *fakeQdrant
}

type pointsServer struct {
	qc.UnimplementedPointsServer
	f *fakeQdrant
}

func (healthServer) HealthCheck(context.Context, *qc.HealthCheckRequest) (*qc.HealthCheckReply, error) {
	return &qc.HealthCheckReply{Title: "qdrant - fake", Version: "1.17.0"}, nil
}

func (cs collectionsServer) CollectionExists(_ context.Context, r *qc.CollectionExistsRequest) (*qc.CollectionExistsResponse, error) {
	cs.f.mu.Lock()
	defer cs.f.mu.Unlock()
	_, ok := cs.f.cols[r.GetCollectionName()]
	return &qc.CollectionExistsResponse{Result: &qc.CollectionExists{Exists: ok}}, nil
}

func (cs collectionsServer) Get(_ context.Context, r *qc.GetCollectionInfoRequest) (*qc.GetCollectionInfoResponse, error) {
	cs.f.mu.Lock()
	defer cs.f.mu.Unlock()
	c, ok := cs.f.cols[r.GetCollectionName()]
	if !ok {
		return nil, status.Error(codes.NotFound, "collection not found")
	}
	return &qc.GetCollectionInfoResponse{Result: &qc.CollectionInfo{Config: &qc.CollectionConfig{Params: &qc.CollectionParams{
		VectorsConfig: qc.NewVectorsConfigMap(map[string]*qc.VectorParams{DenseVector: {Size: c.dim, Distance: qc.Distance_Dot}}),
	}}}}, nil
}

func (cs collectionsServer) Create(_ context.Context, r *qc.CreateCollection) (*qc.CollectionOperationResponse, error) {
	cs.f.mu.Lock()
	defer cs.f.mu.Unlock()
	if _, ok := cs.f.cols[r.GetCollectionName()]; ok {
		return nil, status.Error(codes.AlreadyExists, "collection exists")
	}
	p := r.GetVectorsConfig().GetParamsMap().GetMap()[DenseVector]
	if p == nil || p.GetDistance() != qc.Distance_Dot {
		return nil, status.Error(codes.InvalidArgument, "want a named dot-product vector \"dense\"")
	}
	if r.GetSparseVectorsConfig().GetMap()[SparseVector] == nil {
		return nil, status.Error(codes.InvalidArgument, "want a sparse vector \"sparse\"")
	}
	cs.f.cols[r.GetCollectionName()] = &fakeCollection{dim: p.GetSize(), points: map[string]*fakePoint{}}
	return &qc.CollectionOperationResponse{Result: true}, nil
}

func done() *qc.PointsOperationResponse {
	return &qc.PointsOperationResponse{Result: &qc.UpdateResult{Status: qc.UpdateStatus_Completed}}
}

func (ps pointsServer) CreateFieldIndex(_ context.Context, r *qc.CreateFieldIndexCollection) (*qc.PointsOperationResponse, error) {
	if r.GetFieldType() != qc.FieldType_FieldTypeKeyword {
		return nil, status.Error(codes.InvalidArgument, "only keyword indexes are expected")
	}
	return done(), nil
}

func (f *fakeQdrant) col(name string) (*fakeCollection, error) {
	c, ok := f.cols[name]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "collection %s not found", name)
	}
	return c, nil
}

func (ps pointsServer) Upsert(_ context.Context, r *qc.UpsertPoints) (*qc.PointsOperationResponse, error) {
	ps.f.mu.Lock()
	defer ps.f.mu.Unlock()
	c, err := ps.f.col(r.GetCollectionName())
	if err != nil {
		return nil, err
	}
	for _, p := range r.GetPoints() {
		id := p.GetId().GetUuid()
		vs := p.GetVectors().GetVectors().GetVectors()
		d := vs[DenseVector].GetDense().GetData()
		if uint64(len(d)) != c.dim {
			return nil, status.Errorf(codes.InvalidArgument, "wrong vector dimension %d", len(d))
		}
		fp := &fakePoint{dense: d, payload: p.GetPayload()}
		if s := vs[SparseVector].GetSparse(); s != nil {
			fp.sparseI, fp.sparseV = s.GetIndices(), s.GetValues()
		}
		if _, ok := c.points[id]; !ok {
			c.order = append(c.order, id)
		}
		c.points[id] = fp
	}
	return done(), nil
}

func (ps pointsServer) Delete(_ context.Context, r *qc.DeletePoints) (*qc.PointsOperationResponse, error) {
	ps.f.mu.Lock()
	defer ps.f.mu.Unlock()
	c, err := ps.f.col(r.GetCollectionName())
	if err != nil {
		return nil, err
	}
	flt := r.GetPoints().GetFilter()
	if flt == nil {
		return nil, status.Error(codes.Unimplemented, "fake deletes by filter only")
	}
	keep := c.order[:0]
	for _, id := range c.order {
		if match(flt, c.points[id].payload) {
			delete(c.points, id)
		} else {
			keep = append(keep, id)
		}
	}
	c.order = keep
	return done(), nil
}

func (ps pointsServer) Count(_ context.Context, r *qc.CountPoints) (*qc.CountResponse, error) {
	ps.f.mu.Lock()
	defer ps.f.mu.Unlock()
	c, err := ps.f.col(r.GetCollectionName())
	if err != nil {
		return nil, err
	}
	return &qc.CountResponse{Result: &qc.CountResult{Count: uint64(len(c.points))}}, nil
}

// match evaluates the keyword conditions the index sends: must (all),
// should (any) and must_not, on string or list-of-string payloads.
func match(f *qc.Filter, payload map[string]*qc.Value) bool {
	if f == nil {
		return true
	}
	cond := func(c *qc.Condition) bool {
		if sub := c.GetFilter(); sub != nil {
			return match(sub, payload)
		}
		fc := c.GetField()
		if fc == nil {
			panic(fmt.Sprintf("fake qdrant: unsupported condition %v", c))
		}
		var want []string
		switch m := fc.GetMatch(); {
		case m.GetKeywords() != nil:
			want = m.GetKeywords().GetStrings()
		default:
			want = []string{m.GetKeyword()}
		}
		v := payload[fc.GetKey()]
		have := []string{v.GetStringValue()}
		if l := v.GetListValue(); l != nil {
			have = nil
			for _, x := range l.GetValues() {
				have = append(have, x.GetStringValue())
			}
		}
		for _, h := range have {
			if slices.Contains(want, h) {
				return true
			}
		}
		return false
	}
	for _, c := range f.GetMust() {
		if !cond(c) {
			return false
		}
	}
	for _, c := range f.GetMustNot() {
		if cond(c) {
			return false
		}
	}
	if len(f.GetShould()) > 0 && !slices.ContainsFunc(f.GetShould(), cond) {
		return false
	}
	return true
}

type fakeScored struct {
	id    string
	score float32
	pos   int
}

func sparseDot(ai []uint32, av []float32, bi []uint32, bv []float32) (float32, bool) {
	m := map[uint32]float32{}
	for i, k := range bi {
		m[k] = bv[i]
	}
	var s float32
	hit := false
	for i, k := range ai {
		if v, ok := m[k]; ok {
			s += av[i] * v
			hit = true
		}
	}
	return s, hit
}

// run evaluates one level of a universal query.
func (f *fakeQdrant) run(c *fakeCollection, q *qc.Query, using string, flt *qc.Filter, pre []*qc.PrefetchQuery, limit uint64) ([]fakeScored, error) {
	if limit == 0 {
		limit = 10
	}
	var out []fakeScored
	if len(pre) > 0 {
		k := uint32(60)
		switch {
		case q.GetRrf() != nil:
			if q.GetRrf().K != nil {
				k = q.GetRrf().GetK()
			}
		case q.GetFusion() == qc.Fusion_RRF:
		default:
			return nil, status.Error(codes.Unimplemented, "fake fuses prefetches with RRF only")
		}
		fused := map[string]*fakeScored{}
		for _, p := range pre {
			list, err := f.run(c, p.GetQuery(), p.GetUsing(), p.GetFilter(), p.GetPrefetch(), p.GetLimit())
			if err != nil {
				return nil, err
			}
			for rank, s := range list {
				fs, ok := fused[s.id]
				if !ok {
					fs = &fakeScored{id: s.id, pos: s.pos}
					fused[s.id] = fs
				}
				fs.score += 1 / float32(int(k)+rank+1)
			}
		}
		for _, s := range fused {
			if match(flt, c.points[s.id].payload) {
				out = append(out, *s)
			}
		}
	} else {
		nearest := q.GetNearest()
		if nearest == nil {
			return nil, status.Error(codes.Unimplemented, "fake answers nearest queries only")
		}
		for pos, id := range c.order {
			p := c.points[id]
			if !match(flt, p.payload) {
				continue
			}
			switch using {
			case DenseVector:
				d := nearest.GetDense().GetData()
				if uint64(len(d)) != c.dim {
					return nil, status.Errorf(codes.InvalidArgument, "wrong query dimension %d", len(d))
				}
				var s float32
				for i := range d {
					s += d[i] * p.dense[i]
				}
				out = append(out, fakeScored{id: id, score: s, pos: pos})
			case SparseVector:
				sv := nearest.GetSparse()
				if s, ok := sparseDot(sv.GetIndices(), sv.GetValues(), p.sparseI, p.sparseV); ok {
					out = append(out, fakeScored{id: id, score: s, pos: pos})
				}
			default:
				return nil, status.Errorf(codes.InvalidArgument, "unknown vector name %q", using)
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].score != out[j].score {
			return out[i].score > out[j].score
		}
		return out[i].pos < out[j].pos
	})
	return out[:min(int(limit), len(out))], nil
}

func (ps pointsServer) Query(_ context.Context, r *qc.QueryPoints) (*qc.QueryResponse, error) {
	ps.f.mu.Lock()
	defer ps.f.mu.Unlock()
	ps.f.last = r
	c, err := ps.f.col(r.GetCollectionName())
	if err != nil {
		return nil, err
	}
	list, err := ps.f.run(c, r.GetQuery(), r.GetUsing(), r.GetFilter(), r.GetPrefetch(), r.GetLimit())
	if err != nil {
		return nil, err
	}
	res := make([]*qc.ScoredPoint, len(list))
	for i, s := range list {
		res[i] = &qc.ScoredPoint{Id: qc.NewIDUUID(s.id), Score: s.score, Payload: c.points[s.id].payload}
	}
	return &qc.QueryResponse{Result: res}, nil
}
