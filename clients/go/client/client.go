// Package client is a small Go client for the productsearch.v1.ProductSearch gRPC service:
// upsert a folder of product images, search by image, keyword or catalog product, and
// manage catalogs.
//
// Every call carries a deadline (the one given to Dial, 10 s by default), the catalog (the
// one given to Dial with WithCatalog, or InCatalog for one call; the default catalog
// otherwise) and, when an API key is set, the metadata "authorization: Bearer <key>". Errors
// are the gRPC status errors the server sent (status.FromError, status.Code and CodeName read
// them); local failures, such as an unreadable file, are plain errors.
//
//	c, err := client.Dial("127.0.0.1:50051", client.WithCatalog("shop-a"), client.WithDeadline(5*time.Second))
//	if err != nil { ... }
//	defer c.Close()
//	hits, err := c.SearchByText(ctx, "运动鞋", 10)
//	hits, err = c.SearchByText(ctx, "运动鞋", 10, client.InCatalog("shop-b"))
package client

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	pb "github.com/productsearch/productsearch/clients/go/gen/productsearch/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// DefaultDeadline bounds every call unless WithDeadline says otherwise.
const DefaultDeadline = 10 * time.Second

// maxReceiveBytes lets large answers through (top_k 1,000 with thumbnails is ~20 MB).
const maxReceiveBytes = 64 << 20

// CatalogPrefix starts every catalog's resource name: "catalogs/shop-a".
const CatalogPrefix = "catalogs/"

// Client calls one ProductSearch service over one gRPC connection. It is safe for
// concurrent use.
type Client struct {
	conn     *grpc.ClientConn
	stub     pb.ProductSearchClient
	apiKey   string
	catalog  string // resource name; empty: the default catalog
	deadline time.Duration
	dialOpts []grpc.DialOption
}

// Option configures Dial.
type Option func(*Client)

// WithAPIKey sends "authorization: Bearer <key>" with every call; empty sends nothing.
func WithAPIKey(key string) Option { return func(c *Client) { c.apiKey = key } }

// WithCatalog makes catalog (an id, "shop-a", or a name, "catalogs/shop-a") the one every
// call uses unless InCatalog names another; empty is the default catalog.
func WithCatalog(catalog string) Option { return func(c *Client) { c.catalog = CatalogName(catalog) } }

// WithDeadline bounds every call (for an upsert, the whole stream) to d.
func WithDeadline(d time.Duration) Option { return func(c *Client) { c.deadline = d } }

// WithDialOptions adds gRPC dial options, e.g. transport credentials for TLS (the default
// is plaintext).
func WithDialOptions(opts ...grpc.DialOption) Option {
	return func(c *Client) { c.dialOpts = append(c.dialOpts, opts...) }
}

// Dial connects lazily to target ("host:port"): a server that is down shows up as
// UNAVAILABLE on the first call, not here.
func Dial(target string, opts ...Option) (*Client, error) {
	c := &Client{deadline: DefaultDeadline}
	for _, opt := range opts {
		opt(c)
	}
	if c.deadline <= 0 {
		return nil, fmt.Errorf("deadline must be positive, got %v", c.deadline)
	}
	dialOpts := append([]grpc.DialOption{
		grpc.WithInsecure(),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxReceiveBytes)),
	}, c.dialOpts...)
	conn, err := grpc.Dial(target, dialOpts...)
	if err != nil {
		return nil, err
	}
	c.conn = conn
	c.stub = pb.NewProductSearchClient(conn)
	return c, nil
}

// CatalogName is the resource name of a catalog given by id ("shop-a") or name
// ("catalogs/shop-a"); empty stays empty, which the server reads as "catalogs/default".
func CatalogName(catalog string) string {
	if catalog == "" || strings.HasPrefix(catalog, CatalogPrefix) {
		return catalog
	}
	return CatalogPrefix + catalog
}

// CallOption adjusts one call.
type CallOption func(*call)

// call is what CallOptions set.
type call struct {
	catalog string
}

// InCatalog sends this call to catalog (an id or a name; empty: the default catalog) instead
// of the client's.
func InCatalog(catalog string) CallOption {
	return func(o *call) { o.catalog = CatalogName(catalog) }
}

// catalogOf is the resource name a call sends.
func (c *Client) catalogOf(opts []CallOption) string {
	o := call{catalog: c.catalog}
	for _, opt := range opts {
		opt(&o)
	}
	return o.catalog
}

// Close releases the connection.
func (c *Client) Close() error { return c.conn.Close() }

// Stub is the generated client on the same connection, for the RPCs and options this
// package does not wrap (filters, thumbnails, GetProduct, ...). Calls through it get no
// deadline or API key unless the caller's context carries them (see Context), and name
// their catalog themselves (CatalogName).
func (c *Client) Stub() pb.ProductSearchClient { return c.stub }

// Context derives the context of one call: the client's deadline and API key metadata.
func (c *Client) Context(parent context.Context) (context.Context, context.CancelFunc) {
	ctx := parent
	if c.apiKey != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+c.apiKey)
	}
	return context.WithTimeout(ctx, c.deadline)
}

// Hit is one ranked search result.
type Hit struct {
	ProductID string
	Score     float32
	Title     string
	Category  string
	// Signals maps each matching signal ("image", "title") to its cosine similarity.
	Signals map[string]float32
}

// SearchByImage ranks the catalog by visual similarity to image (JPEG, PNG or WebP bytes).
// topK 0 means the server default (10).
func (c *Client) SearchByImage(ctx context.Context, image []byte, topK int, opts ...CallOption) ([]Hit, error) {
	ctx, cancel := c.Context(ctx)
	defer cancel()
	response, err := c.stub.SearchByImage(ctx, &pb.SearchByImageRequest{Image: image, Options: options(topK), Catalog: c.catalogOf(opts)})
	return hits(response, err)
}

// SearchByText ranks the catalog by similarity to a keyword or sentence (Chinese, English, ...).
func (c *Client) SearchByText(ctx context.Context, text string, topK int, opts ...CallOption) ([]Hit, error) {
	ctx, cancel := c.Context(ctx)
	defer cancel()
	response, err := c.stub.SearchByText(ctx, &pb.SearchByTextRequest{Text: text, Options: options(topK), Catalog: c.catalogOf(opts)})
	return hits(response, err)
}

// SearchSimilar ranks the catalog by visual similarity to the catalog product productID,
// which is left out of the hits. NOT_FOUND when it is unknown.
func (c *Client) SearchSimilar(ctx context.Context, productID string, topK int, opts ...CallOption) ([]Hit, error) {
	ctx, cancel := c.Context(ctx)
	defer cancel()
	response, err := c.stub.SearchSimilar(ctx, &pb.SearchSimilarRequest{ProductId: productID, Options: options(topK), Catalog: c.catalogOf(opts)})
	return hits(response, err)
}

func options(topK int) *pb.SearchOptions { return &pb.SearchOptions{TopK: int32(topK)} }

func hits(response *pb.SearchResponse, err error) ([]Hit, error) {
	if err != nil {
		return nil, err
	}
	out := make([]Hit, 0, len(response.Hits))
	for _, h := range response.Hits {
		signals := make(map[string]float32, len(h.Signals))
		for _, s := range h.Signals {
			signals[s.Signal] = s.Score
		}
		p := h.GetProduct()
		out = append(out, Hit{ProductID: p.GetId(), Score: h.Score, Title: p.GetTitle(), Category: p.GetCategory(), Signals: signals})
	}
	return out, nil
}

// Upsert streams every product image of folder (see ListFolder) in one UpsertProducts call,
// reading one file at a time. The response has one status per product; products the server
// rejects (e.g. a corrupt image) do not fail the call.
func (c *Client) Upsert(ctx context.Context, folder string, opts ...CallOption) (*pb.UpsertProductsResponse, error) {
	entries, err := ListFolder(folder)
	if err != nil {
		return nil, err
	}
	catalog := c.catalogOf(opts)
	ctx, cancel := c.Context(ctx)
	defer cancel()
	stream, err := c.stub.UpsertProducts(ctx)
	if err != nil {
		return nil, err
	}
	for _, entry := range entries {
		image, err := os.ReadFile(entry.Path)
		if err != nil {
			return nil, err // cancel() ends the stream
		}
		product := &pb.Product{Id: entry.ID, Title: entry.Title, Category: entry.Category, Image: image}
		// Every message names the catalog: the server takes the first one's and rejects a
		// stream that switches.
		if err := stream.Send(&pb.UpsertProductsRequest{Product: product, Catalog: catalog}); err != nil {
			if err == io.EOF {
				break // the server ended the call; CloseAndRecv has its status
			}
			return nil, err
		}
	}
	return stream.CloseAndRecv()
}
