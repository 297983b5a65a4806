package main

import (
	"math"
	"testing"
	"time"
)

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

func TestSummariseCountsPercentilesAndCodes(t *testing.T) {
	var results []result
	for i := 1; i <= 100; i++ { // 1..100 ms
		results = append(results, result{call: callText, latency: ms(i), code: "OK"})
	}
	results[99].code, results[99].err = "Unavailable", "down"
	results = append(results, result{call: callUpsert, latency: ms(50), code: "OK", rejected: rejections{"Unavailable: slow": 1}})

	r := summarise(results, 2*time.Second, 8)
	if r.Count != 101 || r.RPS != 50.5 || r.Fastest != ms(1) || r.Slowest != ms(100) {
		t.Fatalf("count %d rps %v fastest %v slowest %v", r.Count, r.RPS, r.Fastest, r.Slowest)
	}
	// 101 samples: 1..100 ms and a second 50 ms; nearest rank ceil(p/100*101).
	want := map[int]time.Duration{10: ms(11), 50: ms(50), 90: ms(90), 99: ms(99)}
	for _, l := range r.Latencies {
		if w, ok := want[l.Percentage]; ok && l.Latency != w {
			t.Errorf("p%d = %v, want %v", l.Percentage, l.Latency, w)
		}
	}
	if r.StatusCodes["OK"] != 100 || r.StatusCodes["Unavailable"] != 1 || r.Errors["Unavailable: down"] != 1 {
		t.Errorf("codes %v errors %v", r.StatusCodes, r.Errors)
	}
	if r.Upserted != 7 || r.Rejected != 1 || r.Rejections["Unavailable: slow"] != 1 {
		t.Errorf("upserted %d rejected %d", r.Upserted, r.Rejected)
	}
	if len(r.Calls) != 2 || r.Calls[0].Call != callText || r.Calls[0].Errors != 1 || r.Calls[0].P50 != ms(50) {
		t.Errorf("calls %+v", r.Calls)
	}
	total := 0
	for _, b := range r.Histogram {
		total += b.Count
	}
	if len(r.Histogram) != 10 || total != 101 || r.Histogram[4].Count != 11 || r.Histogram[9].Count != 10 || math.Abs(r.Histogram[9].Mark-0.1) > 1e-9 {
		t.Errorf("histogram %+v", r.Histogram)
	}
}

func TestHistogramOfEqualLatencies(t *testing.T) {
	h := histogram([]time.Duration{ms(5), ms(5)}, 10)
	if h[9].Count != 2 {
		t.Errorf("equal latencies land in the last bucket: %+v", h)
	}
}

func TestMixedIsNinetyTenReadWrite(t *testing.T) {
	c := newCaller(nil, &payloads{}, scenarios["mixed"], 7)
	writes := 0
	for i := 0; i < 10000; i++ {
		if c.pick() == callUpsert {
			writes++
		}
	}
	if writes < 900 || writes > 1100 {
		t.Errorf("%d writes in 10000 calls, want about 1000", writes)
	}
}

func TestParseFlagsRejectsMoreConnectionsThanWorkers(t *testing.T) {
	if _, err := parseFlags([]string{"--concurrency", "2", "--connections", "4"}); err == nil {
		t.Error("want an error")
	}
	if _, err := parseFlags([]string{"--scenario", "nope"}); err == nil {
		t.Error("want an error for an unknown scenario")
	}
}
