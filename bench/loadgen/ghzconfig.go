package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"text/template"
	"time"

	protov1 "github.com/golang/protobuf/proto"
	pb "github.com/productsearch/productsearch/clients/go/gen/productsearch/v1"
	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// message is any generated message: the ProductSearch ones (protobuf APIv2) and Debian's
// grpc health ones (APIv1) both implement the v1 interface; protov1.MessageV2 views either
// as v2 for protojson.
type message = protov1.Message

// ghzKeys are the JSON keys of ghz's runner.Config (ghz 0.117): a config using any other
// key has a typo that ghz would silently ignore.
var ghzKeys = map[string]bool{
	"proto": true, "protoset": true, "call": true, "cacert": true, "cert": true, "key": true,
	"skipTLS": true, "skipFirst": true, "cname": true, "authority": true, "insecure": true,
	"total": true, "async": true, "concurrency": true, "concurrency-schedule": true,
	"concurrency-start": true, "concurrency-end": true, "concurrency-step": true,
	"concurrency-step-duration": true, "concurrency-max-duration": true, "connections": true,
	"rps": true, "duration": true, "duration-stop": true, "max-duration": true, "timeout": true,
	"data": true, "data-file": true, "binary-file": true, "metadata": true, "metadata-file": true,
	"stream-interval": true, "output": true, "format": true, "connect-timeout": true,
	"keepalive": true, "cpus": true, "import-paths": true, "name": true, "tags": true,
	"reflect-metadata": true, "debug": true, "host": true, "enable-compression": true,
	"load-schedule": true, "load-start": true, "load-end": true, "load-step": true,
	"load-step-duration": true, "load-max-duration": true,
}

// ghzConfig is the part of a ghz config that loadgen replays: the call, its data and
// metadata (with ghz's {{.RequestNumber}} templates), and the load settings.
type ghzConfig struct {
	Name        string            `json:"name"`
	Call        string            `json:"call"`
	Host        string            `json:"host"`
	Proto       string            `json:"proto"`
	ImportPaths []string          `json:"import-paths"`
	Insecure    bool              `json:"insecure"`
	Concurrency int               `json:"concurrency"`
	Connections int               `json:"connections"`
	Total       int               `json:"total"`
	Duration    string            `json:"duration"`
	Timeout     string            `json:"timeout"`
	RPS         float64           `json:"rps"`
	Data        json.RawMessage   `json:"data"`
	Metadata    map[string]string `json:"metadata"`
}

// method is what a call name resolves to.
type method struct {
	path         string
	request      func() message
	response     func() message
	clientStream bool
}

var methods = map[string]method{
	"productsearch.v1.ProductSearch.SearchByText": {"/productsearch.v1.ProductSearch/SearchByText",
		func() message { return &pb.SearchByTextRequest{} }, func() message { return &pb.SearchResponse{} }, false},
	"productsearch.v1.ProductSearch.SearchByImage": {"/productsearch.v1.ProductSearch/SearchByImage",
		func() message { return &pb.SearchByImageRequest{} }, func() message { return &pb.SearchResponse{} }, false},
	"productsearch.v1.ProductSearch.SearchSimilar": {"/productsearch.v1.ProductSearch/SearchSimilar",
		func() message { return &pb.SearchSimilarRequest{} }, func() message { return &pb.SearchResponse{} }, false},
	"productsearch.v1.ProductSearch.UpsertProducts": {"/productsearch.v1.ProductSearch/UpsertProducts",
		func() message { return &pb.UpsertProductsRequest{} }, func() message { return &pb.UpsertProductsResponse{} }, true},
	"productsearch.v1.ProductSearch.GetStats": {"/productsearch.v1.ProductSearch/GetStats",
		func() message { return &pb.GetStatsRequest{} }, func() message { return &pb.GetStatsResponse{} }, false},
	"grpc.health.v1.Health.Check": {"/grpc.health.v1.Health/Check",
		func() message { return &healthpb.HealthCheckRequest{} }, func() message { return &healthpb.HealthCheckResponse{} }, false},
}

// loadGhzConfig reads and checks a ghz config: known keys, a call loadgen knows, data that
// parses as the call's request message (protojson, as ghz does) and plaintext.
func loadGhzConfig(path string) (*ghzConfig, method, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, method{}, err
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(raw, &keys); err != nil {
		return nil, method{}, fmt.Errorf("%s: %w", path, err)
	}
	var unknown []string
	for k := range keys {
		if !ghzKeys[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return nil, method{}, fmt.Errorf("%s: keys ghz does not know: %s", path, strings.Join(unknown, ", "))
	}
	cfg := &ghzConfig{Concurrency: 50, Connections: 1, Total: 200, Timeout: "20s"} // ghz's defaults
	if err := json.Unmarshal(raw, cfg); err != nil {
		return nil, method{}, fmt.Errorf("%s: %w", path, err)
	}
	name := cfg.Call
	if i := strings.LastIndex(name, "/"); i >= 0 {
		name = name[:i] + "." + name[i+1:] // ghz takes package.Service/Method too
	}
	m, ok := methods[name]
	if !ok {
		return nil, method{}, fmt.Errorf("%s: call %q is not one loadgen replays", path, cfg.Call)
	}
	if !cfg.Insecure {
		return nil, method{}, fmt.Errorf("%s: loadgen speaks plaintext only; set \"insecure\": true", path)
	}
	if cfg.Proto != "" {
		if _, err := os.Stat(resolveProto(cfg)); err != nil {
			return nil, method{}, fmt.Errorf("%s: proto %q not found under import-paths %q (run from the repository root)", path, cfg.Proto, cfg.ImportPaths)
		}
	}
	messages, err := cfg.messages()
	if err != nil {
		return nil, method{}, fmt.Errorf("%s: %w", path, err)
	}
	for i, text := range messages {
		rendered, err := render(text, 0)
		if err != nil {
			return nil, method{}, fmt.Errorf("%s: data[%d]: %w", path, i, err)
		}
		if err := protojson.Unmarshal(rendered, protov1.MessageV2(m.request())); err != nil {
			return nil, method{}, fmt.Errorf("%s: data[%d] is not a %s: %w", path, i, protov1.MessageV2(m.request()).ProtoReflect().Descriptor().FullName(), err)
		}
	}
	for k, v := range cfg.Metadata {
		if _, err := render(v, 0); err != nil {
			return nil, method{}, fmt.Errorf("%s: metadata %q: %w", path, k, err)
		}
	}
	return cfg, m, nil
}

// resolveProto finds the proto as ghz does: relative to an import path or the working directory.
func resolveProto(cfg *ghzConfig) string {
	for _, dir := range cfg.ImportPaths {
		candidate := dir + "/" + cfg.Proto
		if _, err := os.Stat(candidate); err == nil {
			return candidate
		}
	}
	return cfg.Proto
}

// messages splits data into its messages: an object is one, an array is several (sent
// round-robin for a unary call, all in one stream for a client-streaming call).
func (cfg *ghzConfig) messages() ([]string, error) {
	data := bytes.TrimSpace(cfg.Data)
	if len(data) == 0 {
		return []string{"{}"}, nil
	}
	if data[0] == '{' {
		return []string{string(data)}, nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(data, &items); err != nil || len(items) == 0 {
		return nil, fmt.Errorf("data must be an object or a non-empty array of objects")
	}
	out := make([]string, len(items))
	for i, item := range items {
		out[i] = string(item)
	}
	return out, nil
}

// templateData is what ghz's call templates see; loadgen fills the commonly used fields.
type templateData struct {
	RequestNumber int64
	TimestampUnix int64
}

func render(text string, n int64) ([]byte, error) {
	if !strings.Contains(text, "{{") {
		return []byte(text), nil
	}
	t, err := template.New("data").Parse(text)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, templateData{RequestNumber: n, TimestampUnix: time.Now().Unix()}); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func mustRender(text string, n int64) []byte {
	out, err := render(text, n)
	if err != nil {
		panic(err) // checked by loadGhzConfig
	}
	return out
}

// withCatalog sets the request's `catalog` field, when it has one, to catalog (when not empty).
func withCatalog(request message, catalog string) {
	if catalog == "" {
		return
	}
	r := protov1.MessageV2(request).ProtoReflect()
	if field := r.Descriptor().Fields().ByName("catalog"); field != nil && field.Kind() == protoreflect.StringKind {
		r.Set(field, protoreflect.ValueOfString(catalog))
	}
}

// ghzDoer replays the config's call: the n-th call of a unary method sends message
// n mod len(data); a client-streaming call sends them all. A non-empty catalog replaces the
// `catalog` of every request that has one.
func ghzDoer(cfg *ghzConfig, m method, catalog string) (func(worker int, conn *grpc.ClientConn) doer, error) {
	messages, err := cfg.messages()
	if err != nil {
		return nil, err
	}
	callName := m.path[strings.LastIndex(m.path, "/")+1:]
	if strings.HasPrefix(m.path, "/grpc.health.v1.") {
		callName = callHealth
	}
	return func(_ int, conn *grpc.ClientConn) doer {
		return func(ctx context.Context, n int64) (string, rejections, error) {
			if len(cfg.Metadata) > 0 {
				md := metadata.MD{}
				for k, v := range cfg.Metadata {
					md.Append(k, string(mustRender(v, n)))
				}
				ctx = metadata.NewOutgoingContext(ctx, md)
			}
			newRequest := func(i int) (message, error) {
				request := m.request()
				if err := protojson.Unmarshal(mustRender(messages[i], n), protov1.MessageV2(request)); err != nil {
					return nil, err
				}
				withCatalog(request, catalog)
				return request, nil
			}
			response := m.response()
			if !m.clientStream {
				request, err := newRequest(int(n % int64(len(messages))))
				if err != nil {
					return callName, nil, err
				}
				return callName, nil, conn.Invoke(ctx, m.path, request, response)
			}
			stream, err := conn.NewStream(ctx, &grpc.StreamDesc{ClientStreams: true}, m.path)
			if err != nil {
				return callName, nil, err
			}
			for i := range messages {
				request, err := newRequest(i)
				if err != nil {
					return callName, nil, err
				}
				if err := stream.SendMsg(request); err != nil {
					break // RecvMsg has the status
				}
			}
			if err := stream.CloseSend(); err != nil {
				return callName, nil, err
			}
			if err := stream.RecvMsg(response); err != nil {
				return callName, nil, err
			}
			if summary, ok := response.(*pb.UpsertProductsResponse); ok {
				return callName, rejectionsOf(summary), nil
			}
			return callName, nil, nil
		}
	}, nil
}
