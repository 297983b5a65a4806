// Command loadgen drives the product search gateway over gRPC with real payloads and reports
// like ghz: count, total time, requests/s, fastest/slowest/average, a latency histogram and
// distribution, status codes and errors (text, or JSON with --format json).
//
//	loadgen --target 127.0.0.1:50051 --scenario read --concurrency 16 --connections 4 --duration 10s
//	loadgen --scenario ceiling --concurrency 16 --duration 5s   # the generator's own limit
//	loadgen --catalog shop-a --scenario mixed --duration 10s     # every request names catalogs/shop-a
//
// Scenarios: read (SearchByText / SearchByImage / SearchSimilar in equal parts), write
// (UpsertProducts streams of --batch products), mixed (90 % read, 10 % write), text, image,
// similar, health (grpc.health.v1 Check on the target) and ceiling (Check on an in-process Go
// server: what this generator can do on this machine). --ghz-config replays a ghz config
// file instead (bench/ghz/*.json): its call, data, metadata and load settings.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/productsearch/productsearch/clients/go/client"
	pb "github.com/productsearch/productsearch/clients/go/gen/productsearch/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

type config struct {
	target      string
	scenario    string
	concurrency int
	connections int
	total       int
	duration    time.Duration
	warmup      time.Duration
	rps         float64
	timeout     time.Duration
	format      string
	name        string
	topK        int
	batch       int
	writeIDs    int
	queryImages int
	similarIDs  int
	dataset     string
	seed        int64
	ghzConfig   string
	apiKey      string
	catalog     string          // resource name sent in every request; empty: the default catalog
	set         map[string]bool // flags given on the command line
}

func main() {
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintf(os.Stderr, "loadgen: %v\n", err)
		os.Exit(1)
	}
	if err := run(cfg); err != nil {
		fmt.Fprintf(os.Stderr, "loadgen: %v\n", err)
		os.Exit(2)
	}
}

func parseFlags(args []string) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	names := make([]string, 0, len(scenarios))
	for name := range scenarios {
		names = append(names, name)
	}
	sort.Strings(names)
	fs.StringVar(&cfg.target, "target", "127.0.0.1:50051", "gateway address host:port")
	fs.StringVar(&cfg.scenario, "scenario", "read", "one of "+strings.Join(names, ", "))
	fs.IntVar(&cfg.concurrency, "concurrency", 1, "workers, each with one call in flight (ghz -c)")
	fs.IntVar(&cfg.connections, "connections", 1, "gRPC connections the workers share round-robin (ghz --connections)")
	fs.IntVar(&cfg.total, "total", 200, "calls to make when --duration is 0 (ghz -n)")
	fs.DurationVar(&cfg.duration, "duration", 0, "issue calls for this long, then let in-flight calls finish (ghz -z)")
	fs.DurationVar(&cfg.warmup, "warmup", 0, "run the scenario this long first, unrecorded")
	fs.Float64Var(&cfg.rps, "rps", 0, "overall rate limit in calls/s; 0 = unlimited (ghz --rps)")
	fs.DurationVar(&cfg.timeout, "timeout", 20*time.Second, "deadline of each call (ghz -t)")
	fs.StringVar(&cfg.format, "format", "summary", "summary or json")
	fs.StringVar(&cfg.name, "name", "", "a name for the run, printed in the report")
	fs.IntVar(&cfg.topK, "top-k", 10, "top_k of searches")
	fs.IntVar(&cfg.batch, "batch", 8, "products per UpsertProducts stream")
	fs.IntVar(&cfg.writeIDs, "write-ids", 1000, "distinct product ids written (loadgen-00000...); more writes replace them")
	fs.IntVar(&cfg.queryImages, "query-images", 200, "Fashion-MNIST test images used as queries and new products")
	fs.IntVar(&cfg.similarIDs, "similar-ids", 500, "catalog ids (from ListProducts) used by SearchSimilar")
	fs.StringVar(&cfg.dataset, "fashion-mnist", "/usr/share/datasets/fashion-mnist", "Debian dataset-fashion-mnist folder")
	fs.Int64Var(&cfg.seed, "seed", 1, "random seed of the call mix and payload choice")
	fs.StringVar(&cfg.apiKey, "api-key", os.Getenv("PRODUCTSEARCH_API_KEY"), "sent as \"authorization: Bearer KEY\" on every call (default $PRODUCTSEARCH_API_KEY)")
	fs.StringVar(&cfg.catalog, "catalog", "", "catalog of every request: an id (shop-a) or a name (catalogs/shop-a); empty: the default catalog")
	fs.StringVar(&cfg.ghzConfig, "ghz-config", "", "replay a ghz JSON config (call, data, metadata, load); flags given here override it")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	cfg.set = map[string]bool{}
	fs.Visit(func(f *flag.Flag) { cfg.set[f.Name] = true })
	cfg.catalog = client.CatalogName(cfg.catalog)
	switch {
	case fs.NArg() > 0:
		return cfg, fmt.Errorf("unexpected arguments %q", fs.Args())
	case scenarios[cfg.scenario] == nil:
		return cfg, fmt.Errorf("unknown scenario %q (one of %s)", cfg.scenario, strings.Join(names, ", "))
	case cfg.concurrency < 1 || cfg.connections < 1 || cfg.connections > cfg.concurrency:
		return cfg, fmt.Errorf("need 1 <= connections <= concurrency, got %d and %d", cfg.connections, cfg.concurrency)
	case cfg.duration == 0 && cfg.total < 1:
		return cfg, fmt.Errorf("need --total >= 1 or a --duration")
	case cfg.format != "summary" && cfg.format != "json":
		return cfg, fmt.Errorf("unknown format %q", cfg.format)
	case cfg.batch < 1 || cfg.writeIDs < 1 || cfg.queryImages < 1 || cfg.similarIDs < 1 || cfg.rps < 0:
		return cfg, fmt.Errorf("--batch, --write-ids, --query-images and --similar-ids must be positive, --rps not negative")
	}
	return cfg, nil
}

func run(cfg config) error {
	mix := scenarios[cfg.scenario]
	var replay *ghzConfig
	var replayed method
	if cfg.ghzConfig != "" {
		var err error
		if replay, replayed, err = loadGhzConfig(cfg.ghzConfig); err != nil {
			return err
		}
		if err := cfg.adopt(replay); err != nil {
			return err
		}
	}
	target := cfg.target
	if cfg.scenario == "ceiling" && replay == nil {
		address, stop, err := serveHealth()
		if err != nil {
			return err
		}
		defer stop()
		target = address
	}
	conns := make([]*grpc.ClientConn, cfg.connections)
	for i := range conns {
		// WithBlock: fail here, not in every call, when the target is down.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		dialOptions := []grpc.DialOption{grpc.WithInsecure(), grpc.WithBlock()}
		if cfg.apiKey != "" {
			dialOptions = append(dialOptions, grpc.WithPerRPCCredentials(bearer(cfg.apiKey)))
		}
		conn, err := grpc.DialContext(ctx, target, dialOptions...)
		cancel()
		if err != nil {
			return fmt.Errorf("connect to %s: %w", target, err)
		}
		defer conn.Close()
		conns[i] = conn
	}
	var newDoer func(int, *grpc.ClientConn) doer
	batch := cfg.batch
	scenario := cfg.scenario
	if replay != nil {
		var err error
		catalog := ""
		if cfg.set["catalog"] {
			catalog = cfg.catalog // replaces the config's own
		}
		if newDoer, err = ghzDoer(replay, replayed, catalog); err != nil {
			return err
		}
		messages, _ := replay.messages()
		batch, scenario = len(messages), "ghz "+cfg.ghzConfig
		if cfg.name == "" {
			cfg.name = replay.Name
		}
	} else {
		p, err := preparePayloads(cfg, mix, conns[0])
		if err != nil {
			return err
		}
		newDoer = func(w int, conn *grpc.ClientConn) doer {
			return newCaller(conn, p, mix, cfg.seed+int64(w)).next
		}
	}
	l := load{concurrency: cfg.concurrency, total: cfg.total, duration: cfg.duration, rps: cfg.rps, timeout: cfg.timeout}
	if cfg.warmup > 0 {
		warm := l
		warm.duration, warm.rps = cfg.warmup, 0
		drive(conns, newDoer, warm)
	}
	results, elapsed := drive(conns, newDoer, l)
	r := summarise(results, elapsed, batch)
	r.Name, r.Date = cfg.name, time.Now().UTC().Format(time.RFC3339)
	r.Options = reportOptions{
		Target: target, Scenario: scenario, Concurrency: cfg.concurrency, Connections: cfg.connections,
		RPS: cfg.rps, Timeout: cfg.timeout.String(), TopK: int32(cfg.topK), Catalog: cfg.catalog,
	}
	if cfg.duration > 0 {
		r.Options.Duration = cfg.duration.String()
	} else {
		r.Options.Total = cfg.total
	}
	if uses(mix, callUpsert) || (replay != nil && replayed.clientStream) {
		r.Options.Batch = batch
	}
	if cfg.scenario == "ceiling" && replay == nil {
		r.Options.Target = "in-process " + target
	}
	if cfg.format == "json" {
		return r.writeJSON(os.Stdout)
	}
	r.writeSummary(os.Stdout)
	return nil
}

// adopt takes the target and load settings of a ghz config, except those given as flags.
func (cfg *config) adopt(g *ghzConfig) error {
	if !cfg.set["target"] && g.Host != "" {
		cfg.target = g.Host
	}
	if !cfg.set["concurrency"] {
		cfg.concurrency = g.Concurrency
	}
	if !cfg.set["connections"] {
		cfg.connections = g.Connections
	}
	if !cfg.set["rps"] {
		cfg.rps = g.RPS
	}
	if !cfg.set["timeout"] && g.Timeout != "" {
		d, err := time.ParseDuration(g.Timeout)
		if err != nil {
			return fmt.Errorf("timeout: %w", err)
		}
		cfg.timeout = d
	}
	// ghz: a duration wins over total. Either flag given here replaces both.
	if !cfg.set["total"] && !cfg.set["duration"] {
		cfg.total, cfg.duration = g.Total, 0
		if g.Duration != "" {
			d, err := time.ParseDuration(g.Duration)
			if err != nil {
				return fmt.Errorf("duration: %w", err)
			}
			cfg.duration = d
		}
	}
	if cfg.connections < 1 || cfg.connections > cfg.concurrency {
		return fmt.Errorf("need 1 <= connections <= concurrency, got %d and %d", cfg.connections, cfg.concurrency)
	}
	return nil
}

func uses(mix []weighted, call string) bool {
	for _, w := range mix {
		if w.call == call {
			return true
		}
	}
	return false
}

// preparePayloads loads what the scenario's calls send: Fashion-MNIST test images (queries
// and new products; the catalog is built from the train split) and catalog ids.
func preparePayloads(cfg config, mix []weighted, conn *grpc.ClientConn) (*payloads, error) {
	p := &payloads{topK: int32(cfg.topK), batch: cfg.batch, writeIDs: uint64(cfg.writeIDs), catalog: cfg.catalog}
	if uses(mix, callImage) || uses(mix, callUpsert) {
		images, err := loadFashionMNIST(cfg.dataset, "t10k", cfg.queryImages)
		if err != nil {
			return nil, err
		}
		p.images = images
	}
	if uses(mix, callSimilar) {
		ctx, cancel := context.WithTimeout(context.Background(), cfg.timeout)
		defer cancel()
		ids, err := catalogIDs(ctx, pb.NewProductSearchClient(conn), cfg.catalog, cfg.similarIDs)
		if err != nil {
			return nil, fmt.Errorf("list catalog ids for SearchSimilar: %w", err)
		}
		if len(ids) == 0 {
			return nil, fmt.Errorf("the catalog is empty: SearchSimilar needs products")
		}
		p.similarIDs = ids
	}
	return p, nil
}

// bearer sends an API key with every call, over plaintext too (loopback benchmarks).
type bearer string

func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(b)}, nil
}

func (bearer) RequireTransportSecurity() bool { return false }

// serveHealth starts grpc-go's own health service on a loopback port, in this process.
func serveHealth() (address string, stop func(), err error) {
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	server := grpc.NewServer()
	healthpb.RegisterHealthServer(server, health.NewServer())
	go server.Serve(listener)
	return listener.Addr().String(), server.Stop, nil
}
