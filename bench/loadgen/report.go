package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"time"
)

// percentages of the latency distribution, as ghz prints them.
var percentages = []int{10, 25, 50, 75, 90, 95, 99}

// report summarises a run like ghz's summary and JSON outputs; durations are nanoseconds in
// JSON (Go's time.Duration), histogram marks are seconds.
type report struct {
	Name         string         `json:"name"`
	Date         string         `json:"date"`
	Options      reportOptions  `json:"options"`
	Count        int            `json:"count"`
	Total        time.Duration  `json:"total"`
	Average      time.Duration  `json:"average"`
	Fastest      time.Duration  `json:"fastest"`
	Slowest      time.Duration  `json:"slowest"`
	RPS          float64        `json:"rps"`
	Histogram    []bucket       `json:"histogram"`
	Latencies    []latency      `json:"latencyDistribution"`
	StatusCodes  map[string]int `json:"statusCodeDistribution"`
	Errors       map[string]int `json:"errorDistribution"`
	Calls        []callSummary  `json:"calls"`
	Upserted     int            `json:"upsertedProducts"`
	Rejected     int            `json:"rejectedProducts"`
	Rejections   map[string]int `json:"productStatusDistribution"`
	ProductsRate float64        `json:"upsertedProductsPerSecond"`
}

type reportOptions struct {
	Target      string  `json:"target"`
	Scenario    string  `json:"scenario"`
	Concurrency int     `json:"concurrency"`
	Connections int     `json:"connections"`
	Total       int     `json:"total,omitempty"`
	Duration    string  `json:"duration,omitempty"`
	RPS         float64 `json:"rps,omitempty"`
	Timeout     string  `json:"timeout"`
	Batch       int     `json:"batch,omitempty"`
	TopK        int32   `json:"topK"`
	Catalog     string  `json:"catalog,omitempty"`
}

type bucket struct {
	Mark      float64 `json:"mark"`
	Count     int     `json:"count"`
	Frequency float64 `json:"frequency"`
}

type latency struct {
	Percentage int           `json:"percentage"`
	Latency    time.Duration `json:"latency"`
}

// callSummary is one RPC's share of a mixed run.
type callSummary struct {
	Call    string        `json:"call"`
	Count   int           `json:"count"`
	Errors  int           `json:"errors"`
	RPS     float64       `json:"rps"`
	Average time.Duration `json:"average"`
	P50     time.Duration `json:"p50"`
	P90     time.Duration `json:"p90"`
	P99     time.Duration `json:"p99"`
}

// summarise builds the report over every call, errors included (as ghz does); the status
// code distribution tells them apart.
func summarise(results []result, elapsed time.Duration, batch int) report {
	r := report{
		Count: len(results), Total: elapsed,
		StatusCodes: map[string]int{}, Errors: map[string]int{}, Rejections: map[string]int{},
	}
	if elapsed > 0 {
		r.RPS = float64(len(results)) / elapsed.Seconds()
	}
	latencies := make([]time.Duration, 0, len(results))
	byCall := map[string][]result{}
	var sum time.Duration
	for _, res := range results {
		latencies = append(latencies, res.latency)
		sum += res.latency
		r.StatusCodes[res.code]++
		if res.code != "OK" {
			r.Errors[fmt.Sprintf("%s: %s", res.code, res.err)]++
		} else if res.call == callUpsert {
			r.Upserted += batch - res.rejected.total()
			r.Rejected += res.rejected.total()
			for why, n := range res.rejected {
				r.Rejections[why] += n
			}
		}
		byCall[res.call] = append(byCall[res.call], res)
	}
	if elapsed > 0 {
		r.ProductsRate = float64(r.Upserted) / elapsed.Seconds()
	}
	sortDurations(latencies)
	if len(latencies) > 0 {
		r.Fastest, r.Slowest = latencies[0], latencies[len(latencies)-1]
		r.Average = sum / time.Duration(len(latencies))
		for _, p := range percentages {
			r.Latencies = append(r.Latencies, latency{p, percentile(latencies, p)})
		}
		r.Histogram = histogram(latencies, 10)
	}
	names := make([]string, 0, len(byCall))
	for name := range byCall {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		r.Calls = append(r.Calls, summariseCall(name, byCall[name], elapsed))
	}
	return r
}

func summariseCall(name string, results []result, elapsed time.Duration) callSummary {
	s := callSummary{Call: name, Count: len(results)}
	latencies := make([]time.Duration, 0, len(results))
	var sum time.Duration
	for _, res := range results {
		if res.code != "OK" {
			s.Errors++
		}
		latencies = append(latencies, res.latency)
		sum += res.latency
	}
	sortDurations(latencies)
	if elapsed > 0 {
		s.RPS = float64(len(results)) / elapsed.Seconds()
	}
	if len(latencies) > 0 {
		s.Average = sum / time.Duration(len(latencies))
		s.P50, s.P90, s.P99 = percentile(latencies, 50), percentile(latencies, 90), percentile(latencies, 99)
	}
	return s
}

func sortDurations(d []time.Duration) { sort.Slice(d, func(i, j int) bool { return d[i] < d[j] }) }

// percentile is the nearest-rank percentile of sorted latencies: the smallest value with at
// least p % of the values at or below it.
func percentile(sorted []time.Duration, p int) time.Duration {
	rank := int(math.Ceil(float64(p) / 100 * float64(len(sorted))))
	if rank < 1 {
		rank = 1
	}
	return sorted[rank-1]
}

// histogram splits [fastest, slowest] into n equal buckets; each mark is its upper bound in
// seconds.
func histogram(sorted []time.Duration, n int) []bucket {
	fastest, slowest := sorted[0], sorted[len(sorted)-1]
	width := float64(slowest-fastest) / float64(n)
	buckets := make([]bucket, n)
	for i := range buckets {
		buckets[i].Mark = (float64(fastest) + width*float64(i+1)) / float64(time.Second)
	}
	for _, d := range sorted {
		i := n - 1
		if width > 0 {
			i = int(float64(d-fastest) / width)
			if i >= n {
				i = n - 1
			}
		}
		buckets[i].Count++
	}
	for i := range buckets {
		buckets[i].Frequency = float64(buckets[i].Count) / float64(len(sorted))
	}
	return buckets
}

func (r report) writeJSON(w io.Writer) error {
	encoder := json.NewEncoder(w)
	encoder.SetIndent("", "  ")
	return encoder.Encode(r)
}

// writeSummary prints the report the way ghz's "summary" format does, plus a per-call table.
func (r report) writeSummary(w io.Writer) {
	ms := func(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }
	fmt.Fprintf(w, "\nSummary:\n")
	if r.Name != "" {
		fmt.Fprintf(w, "  Name:\t%s\n", r.Name)
	}
	fmt.Fprintf(w, "  Count:\t%d\n  Total:\t%s\n  Slowest:\t%s\n  Fastest:\t%s\n  Average:\t%s\n  Requests/sec:\t%.2f\n",
		r.Count, ms(r.Total), ms(r.Slowest), ms(r.Fastest), ms(r.Average), r.RPS)
	if r.Upserted+r.Rejected > 0 {
		fmt.Fprintf(w, "  Products upserted:\t%d (%.1f/s), rejected %d\n", r.Upserted, r.ProductsRate, r.Rejected)
	}
	fmt.Fprintf(w, "\nResponse time histogram:\n")
	most := 0
	for _, b := range r.Histogram {
		if b.Count > most {
			most = b.Count
		}
	}
	for _, b := range r.Histogram {
		bar := 0
		if most > 0 {
			bar = b.Count * 40 / most
		}
		fmt.Fprintf(w, "  %.3f [%d]\t|%s\n", b.Mark*1000, b.Count, strings.Repeat("∎", bar))
	}
	fmt.Fprintf(w, "\nLatency distribution:\n")
	for _, l := range r.Latencies {
		fmt.Fprintf(w, "  %d %% in %s\n", l.Percentage, ms(l.Latency))
	}
	fmt.Fprintf(w, "\nStatus code distribution:\n")
	for _, code := range sortedKeys(r.StatusCodes) {
		fmt.Fprintf(w, "  [%s]\t%d responses\n", code, r.StatusCodes[code])
	}
	if len(r.Rejections) > 0 {
		fmt.Fprintf(w, "\nProduct status distribution (products not stored by OK UpsertProducts calls):\n")
		for _, why := range sortedKeys(r.Rejections) {
			fmt.Fprintf(w, "  [%d]\t%s\n", r.Rejections[why], why)
		}
	}
	if len(r.Errors) > 0 {
		fmt.Fprintf(w, "\nError distribution:\n")
		for _, e := range sortedKeys(r.Errors) {
			fmt.Fprintf(w, "  [%d]\t%s\n", r.Errors[e], e)
		}
	}
	if len(r.Calls) > 1 {
		fmt.Fprintf(w, "\nBy call:\n  %-15s %8s %7s %9s %10s %10s %10s\n", "call", "count", "errors", "req/s", "p50", "p90", "p99")
		for _, c := range r.Calls {
			fmt.Fprintf(w, "  %-15s %8d %7d %9.1f %10s %10s %10s\n", c.Call, c.Count, c.Errors, c.RPS, ms(c.P50), ms(c.P90), ms(c.P99))
		}
	}
	fmt.Fprintln(w)
}

func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
