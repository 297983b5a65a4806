package main

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	pb "github.com/productsearch/productsearch/clients/go/gen/productsearch/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// load says how hard and how long to drive.
type load struct {
	concurrency int           // workers, each with one call in flight
	total       int           // stop after this many calls (when duration is 0)
	duration    time.Duration // stop issuing calls after this long; in-flight calls finish
	rps         float64       // overall rate limit; 0 = as fast as the workers go
	timeout     time.Duration // deadline of each call
}

// result is one finished call.
type result struct {
	call     string
	latency  time.Duration
	code     string     // status code name, as ghz prints it ("OK", "Unavailable", ...)
	err      string     // error message when not OK
	rejected rejections // UpsertProducts: products the server did not store in an OK call
}

// doer makes the n-th call of a run (n counts from 0 over all workers) and names it; for
// UpsertProducts it also returns the products the server did not store in an OK call.
type doer func(ctx context.Context, n int64) (call string, rejected rejections, err error)

// rejections counts products an OK UpsertProducts call did not store, by "Code: message".
type rejections map[string]int

func (r rejections) total() int {
	n := 0
	for _, count := range r {
		n += count
	}
	return n
}

// rejectionsOf reads the per-product statuses of an UpsertProducts answer.
func rejectionsOf(response *pb.UpsertProductsResponse) rejections {
	var out rejections
	for _, s := range response.Statuses {
		if code := codes.Code(s.Code); code != codes.OK {
			if out == nil {
				out = rejections{}
			}
			out[code.String()+": "+s.Message]++
		}
	}
	return out
}

// drive runs the workers over the connections (worker i uses connection i mod len) and
// returns every call's result and the wall time from the first call to the last answer.
func drive(conns []*grpc.ClientConn, newDoer func(worker int, conn *grpc.ClientConn) doer, l load) ([]result, time.Duration) {
	var issued int64
	perWorker := make([][]result, l.concurrency)
	var wg sync.WaitGroup
	start := time.Now()
	stopAt := start.Add(l.duration)
	for w := 0; w < l.concurrency; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			do := newDoer(w, conns[w%len(conns)])
			for {
				n := atomic.AddInt64(&issued, 1) - 1
				if l.duration > 0 {
					if !time.Now().Before(stopAt) {
						return
					}
				} else if n >= int64(l.total) {
					return
				}
				if l.rps > 0 { // the n-th call starts no earlier than n/rps after the start
					due := start.Add(time.Duration(float64(n) / l.rps * float64(time.Second)))
					if wait := time.Until(due); wait > 0 {
						time.Sleep(wait)
					}
					if l.duration > 0 && !time.Now().Before(stopAt) {
						return
					}
				}
				perWorker[w] = append(perWorker[w], timed(do, n, l.timeout))
			}
		}(w)
	}
	wg.Wait()
	elapsed := time.Since(start)
	var all []result
	for _, rs := range perWorker {
		all = append(all, rs...)
	}
	return all, elapsed
}

func timed(do doer, n int64, timeout time.Duration) result {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	began := time.Now()
	name, rejected, err := do(ctx, n)
	r := result{call: name, latency: time.Since(began), code: "OK", rejected: rejected}
	if err != nil {
		s := status.Convert(err)
		r.code, r.err = s.Code().String(), s.Message()
	}
	return r
}
