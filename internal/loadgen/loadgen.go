// Package loadgen is the load generator behind `gatehouse bench`: a fixed
// number of keep-alive workers send requests for a fixed time and record
// every latency. It only ever targets loopback servers the bench started.
package loadgen

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"
)

// Options shape a run.
type Options struct {
	Duration    time.Duration
	Warmup      time.Duration
	Concurrency int
}

// Result is what one run measured.
type Result struct {
	Name     string
	Requests int
	Errors   int
	Elapsed  time.Duration
	P50, P99 time.Duration
}

// RPS is requests per second.
func (r Result) RPS() float64 { return float64(r.Requests) / r.Elapsed.Seconds() }

func (r Result) String() string {
	return fmt.Sprintf("%-44s %9.0f req/s   p50 %8s   p99 %8s   errors %d", r.Name, r.RPS(),
		r.P50.Round(time.Microsecond), r.P99.Round(time.Microsecond), r.Errors)
}

// Run sends newReq() requests from opts.Concurrency workers for
// opts.Duration (after a warmup that is not counted); a response that is not
// wantStatus counts as an error.
func Run(ctx context.Context, name string, newReq func() *http.Request, wantStatus int, opts Options) Result {
	tr := &http.Transport{MaxIdleConnsPerHost: opts.Concurrency, MaxConnsPerHost: opts.Concurrency, IdleConnTimeout: time.Minute}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}

	var mu sync.Mutex
	var lat []time.Duration
	errs := 0
	start := time.Now()
	measureFrom := start.Add(opts.Warmup)
	stop := measureFrom.Add(opts.Duration)
	var wg sync.WaitGroup
	for range opts.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := make([]time.Duration, 0, 4096)
			localErrs := 0
			for ctx.Err() == nil {
				t0 := time.Now()
				if t0.After(stop) {
					break
				}
				resp, err := client.Do(newReq().WithContext(ctx))
				ok := err == nil && resp.StatusCode == wantStatus
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				if t0.Before(measureFrom) {
					continue
				}
				if ok {
					local = append(local, time.Since(t0))
				} else {
					localErrs++
				}
			}
			mu.Lock()
			lat = append(lat, local...)
			errs += localErrs
			mu.Unlock()
		}()
	}
	wg.Wait()
	slices.Sort(lat)
	r := Result{Name: name, Requests: len(lat), Errors: errs, Elapsed: opts.Duration}
	if n := len(lat); n > 0 {
		r.P50, r.P99 = lat[n/2], lat[n*99/100]
	}
	return r
}
