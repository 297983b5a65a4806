package main

import (
	"context"
	"fmt"
	"math/rand"
	"sync/atomic"

	pb "github.com/productsearch/productsearch/clients/go/gen/productsearch/v1"
	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// Call names as they appear in reports (the RPC method names).
const (
	callText    = "SearchByText"
	callImage   = "SearchByImage"
	callSimilar = "SearchSimilar"
	callUpsert  = "UpsertProducts"
	callHealth  = "Health.Check"
)

// scenarios maps a scenario name to the mix of calls it makes: each request picks a call
// with these weights.
var scenarios = map[string][]weighted{
	"read":    {{callText, 1}, {callImage, 1}, {callSimilar, 1}},
	"write":   {{callUpsert, 1}},
	"mixed":   {{callText, 3}, {callImage, 3}, {callSimilar, 3}, {callUpsert, 1}}, // 90/10 read/write
	"text":    {{callText, 1}},
	"image":   {{callImage, 1}},
	"similar": {{callSimilar, 1}},
	"health":  {{callHealth, 1}}, // grpc.health.v1 Check on the target: a trivial RPC through the gateway
	"ceiling": {{callHealth, 1}}, // the same against an in-process Go server: the generator's own limit
}

type weighted struct {
	call   string
	weight int
}

// payloads are the request bodies the calls draw from.
type payloads struct {
	images      *fashionImages // queries (SearchByImage) and new products (UpsertProducts)
	similarIDs  []string
	topK        int32
	catalog     string // resource name every request names; empty: the default catalog
	batch       int    // products per UpsertProducts stream
	writeIDs    uint64 // distinct product ids written; later writes replace earlier ones
	writeNumber uint64 // atomic: products written so far
}

// caller makes one call of a scenario on one connection.
type caller struct {
	search  pb.ProductSearchClient
	health  healthpb.HealthClient
	payload *payloads
	rng     *rand.Rand
	mix     []weighted
	total   int
}

func newCaller(conn *grpc.ClientConn, p *payloads, mix []weighted, seed int64) *caller {
	c := &caller{
		search: pb.NewProductSearchClient(conn), health: healthpb.NewHealthClient(conn),
		payload: p, rng: rand.New(rand.NewSource(seed)), mix: mix,
	}
	for _, w := range mix {
		c.total += w.weight
	}
	return c
}

// pick chooses the next call of the mix.
func (c *caller) pick() string {
	n := c.rng.Intn(c.total)
	for _, w := range c.mix {
		if n < w.weight {
			return w.call
		}
		n -= w.weight
	}
	return c.mix[len(c.mix)-1].call
}

// next makes the next call of the mix; it is a doer.
func (c *caller) next(ctx context.Context, _ int64) (string, rejections, error) {
	call := c.pick()
	rejected, err := c.do(ctx, call)
	return call, rejected, err
}

// do makes one call; for UpsertProducts it also returns the products the server rejected.
func (c *caller) do(ctx context.Context, call string) (rejected rejections, err error) {
	p := c.payload
	options := &pb.SearchOptions{TopK: p.topK}
	switch call {
	case callText:
		_, err = c.search.SearchByText(ctx, &pb.SearchByTextRequest{Text: keywords[c.rng.Intn(len(keywords))], Options: options, Catalog: p.catalog})
	case callImage:
		image := p.images.pngs[c.rng.Intn(len(p.images.pngs))]
		_, err = c.search.SearchByImage(ctx, &pb.SearchByImageRequest{Image: image, Options: options, Catalog: p.catalog})
	case callSimilar:
		id := p.similarIDs[c.rng.Intn(len(p.similarIDs))]
		_, err = c.search.SearchSimilar(ctx, &pb.SearchSimilarRequest{ProductId: id, Options: options, Catalog: p.catalog})
	case callUpsert:
		return c.upsert(ctx)
	case callHealth:
		_, err = c.health.Check(ctx, &healthpb.HealthCheckRequest{})
	default:
		err = fmt.Errorf("unknown call %q", call)
	}
	return nil, err
}

// upsert streams one batch of Fashion-MNIST products with Chinese or English titles.
func (c *caller) upsert(ctx context.Context) (rejections, error) {
	p := c.payload
	stream, err := c.search.UpsertProducts(ctx)
	if err != nil {
		return nil, err
	}
	for i := 0; i < p.batch; i++ {
		n := atomic.AddUint64(&p.writeNumber, 1) - 1
		image := int(n % uint64(len(p.images.pngs)))
		label := p.images.labels[image]
		title := categoriesEN[label]
		if n%2 == 1 {
			title = categoriesZH[label]
		}
		price := float64(n%200) + 0.99
		product := &pb.Product{
			Id:         fmt.Sprintf("loadgen-%05d", n%p.writeIDs),
			Title:      title,
			Category:   categoriesEN[label],
			Price:      &price,
			Image:      p.images.pngs[image],
			Attributes: map[string]string{"source": "loadgen"},
		}
		if err := stream.Send(&pb.UpsertProductsRequest{Product: product, Catalog: p.catalog}); err != nil {
			break // the server ended the call early; CloseAndRecv returns why
		}
	}
	response, err := stream.CloseAndRecv()
	if err != nil {
		return nil, err
	}
	return rejectionsOf(response), nil
}
