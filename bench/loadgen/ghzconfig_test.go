package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	pb "github.com/productsearch/productsearch/clients/go/gen/productsearch/v1"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// The committed bench/ghz configs: known keys, known calls, data that parses as the request.
func TestCommittedGhzConfigsAreValid(t *testing.T) {
	if err := os.Chdir("../.."); err != nil { // proto paths are relative to the repository root
		t.Fatal(err)
	}
	paths, err := filepath.Glob("bench/ghz/*.json")
	if err != nil || len(paths) < 5 {
		t.Fatalf("want the bench/ghz configs, got %v %v", paths, err)
	}
	for _, path := range paths {
		cfg, m, err := loadGhzConfig(path)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		if messages, _ := cfg.messages(); m.clientStream && len(messages) < 2 {
			t.Errorf("%s: a client stream of %d message", path, len(messages))
		}
	}
}

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "c.json")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestGhzConfigMistakesAreCaught(t *testing.T) {
	for text, want := range map[string]string{
		`{"call": "productsearch.v1.ProductSearch.SearchByText", "insecure": true, "concurency": 4}`:                   "concurency",
		`{"call": "productsearch.v1.ProductSearch.SearchByText", "insecure": true, "data": {"txt": "bag"}}`:            "txt",
		`{"call": "productsearch.v1.ProductSearch.SearchByImage", "insecure": true, "data": {"image": "not base64!"}}`: "SearchByImageRequest",
		`{"call": "productsearch.v1.ProductSearch.Nope", "insecure": true}`:                                            "Nope",
		`{"call": "productsearch.v1.ProductSearch/SearchByText", "data": {"text": "bag"}}`:                             "insecure",
		`{"call": "productsearch.v1.ProductSearch/SearchByText", "insecure": true, "data": {"text": "{{.Nope}}"}}`:     "Nope",
	} {
		_, _, err := loadGhzConfig(writeConfig(t, text))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: want an error naming %q, got %v", text, want, err)
		}
	}
}

func TestGhzTemplatesAndRoundRobin(t *testing.T) {
	cfg, m, err := loadGhzConfig(writeConfig(t, `{"call": "productsearch.v1.ProductSearch/SearchByText", "insecure": true,
		"data": [{"text": "a{{.RequestNumber}}"}, {"text": "b"}], "total": 3, "concurrency": 2}`))
	if err != nil {
		t.Fatal(err)
	}
	if m.path != "/productsearch.v1.ProductSearch/SearchByText" || cfg.Total != 3 || cfg.Connections != 1 {
		t.Errorf("method %q total %d connections %d", m.path, cfg.Total, cfg.Connections)
	}
	messages, _ := cfg.messages()
	if got := string(mustRender(messages[0], 42)); got != `{"text": "a42"}` {
		t.Errorf("rendered %s", got)
	}
}

func TestCatalogReplacesTheConfigsOwnWhereTheRequestHasOne(t *testing.T) {
	text := &pb.SearchByTextRequest{Text: "bag", Catalog: "catalogs/from-config"}
	withCatalog(text, "catalogs/shop-a")
	if text.Catalog != "catalogs/shop-a" {
		t.Errorf("catalog %q", text.Catalog)
	}
	kept := &pb.SearchByTextRequest{Catalog: "catalogs/from-config"}
	withCatalog(kept, "")
	if kept.Catalog != "catalogs/from-config" {
		t.Errorf("an empty catalog keeps the config's: %q", kept.Catalog)
	}
	withCatalog(&healthpb.HealthCheckRequest{}, "catalogs/shop-a") // no catalog field: untouched
}

func TestParseFlagsNamesTheCatalog(t *testing.T) {
	for flag, want := range map[string]string{"": "", "shop-a": "catalogs/shop-a", "catalogs/shop-b": "catalogs/shop-b"} {
		cfg, err := parseFlags([]string{"--catalog", flag})
		if err != nil || cfg.catalog != want {
			t.Errorf("--catalog %q: got %q %v, want %q", flag, cfg.catalog, err, want)
		}
	}
}
