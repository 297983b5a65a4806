package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

func env(values map[string]string) func(string) string {
	return func(key string) string { return values[key] }
}

func TestParseDefaultsAndEnvironment(t *testing.T) {
	inv, err := parse([]string{"search-text", "运动鞋"}, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := invocation{target: "127.0.0.1:50051", deadline: 10 * time.Second, command: "search-text", argument: "运动鞋", topK: 10}
	if inv != want {
		t.Fatalf("got %+v, want %+v", inv, want)
	}
	inv, err = parse([]string{"similar", "sku-1"}, env(map[string]string{
		"PRODUCTSEARCH_TARGET": "gw:1", "PRODUCTSEARCH_API_KEY": "k", "PRODUCTSEARCH_CATALOG": "shop-a",
	}))
	if err != nil || inv.target != "gw:1" || inv.apiKey != "k" || inv.catalog != "shop-a" {
		t.Fatalf("environment not used: %+v %v", inv, err)
	}
}

func TestParseOptions(t *testing.T) {
	inv, err := parse([]string{"--target=h:2", "--deadline", "0.0001", "--api-key", "s", "--catalog=catalogs/shop-b", "search-image", "x.png", "--top-k", "3"},
		env(map[string]string{"PRODUCTSEARCH_TARGET": "gw:1", "PRODUCTSEARCH_CATALOG": "shop-a"}))
	if err != nil {
		t.Fatal(err)
	}
	if inv.target != "h:2" || inv.deadline != 100*time.Microsecond || inv.apiKey != "s" || inv.catalog != "catalogs/shop-b" || inv.argument != "x.png" || inv.topK != 3 {
		t.Fatalf("got %+v", inv)
	}
	inv, err = parse([]string{"search-text", "--top-k=5", "--", "--red"}, env(nil))
	if err != nil || inv.topK != 5 || inv.argument != "--red" {
		t.Fatalf("got %+v %v", inv, err)
	}
}

func TestParseUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"--target"},
		{"--catalog"},
		{"--deadline", "0", "similar", "a"},
		{"--deadline", "soon", "similar", "a"},
		{"--colour", "red", "similar", "a"},
		{"frobnicate", "a"},
		{"similar"},
		{"similar", "a", "b"},
		{"similar", "a", "--top-k", "many"},
		{"upsert", "dir", "--top-k", "3"},
	} {
		_, err := parse(args, env(nil))
		var usage usageError
		if !errors.As(err, &usage) {
			t.Errorf("parse(%q): want a usage error, got %v", args, err)
		}
	}
}

func TestRunExitCodes(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"similar"}, &stdout, &stderr); code != exitUsage || !strings.Contains(stderr.String(), "usage:") {
		t.Errorf("usage error: exit %d, stderr %q", code, stderr.String())
	}
	stdout.Reset()
	if code := run([]string{"--help"}, &stdout, &stderr); code != exitOK || !strings.HasPrefix(stdout.String(), "usage:") {
		t.Errorf("--help: exit %d, stdout %q", code, stdout.String())
	}
}
