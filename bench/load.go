package bench

import (
	"context"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Load is a closed loop: Concurrency workers each send a request, wait for
// its answer and send the next, until Requests have been sent in all or, if
// Requests is 0, until Duration has passed. With neither, each worker sends
// one request. Every loop is bounded.
type Load struct {
	Concurrency int
	Requests    int
	Duration    time.Duration
}

// Result is what a Load measured.
type Result struct {
	Latencies []time.Duration // of the successful requests, sorted
	Errors    int
	Err       error          // the first error, if any
	Kinds     map[string]int // errors by kind (message without ids and ports), at most maxKinds of them
	Wall      time.Duration  // from the start of the first request to the end of the last
}

// maxKinds bounds the number of distinct error messages a Result keeps.
const maxKinds = 8

// addErr counts one failed request.
func (r *Result) addErr(err error) {
	r.Errors++
	if r.Err == nil {
		r.Err = err
	}
	r.countKind(kind(err), 1)
}

func (r *Result) countKind(msg string, n int) {
	if r.Kinds == nil {
		r.Kinds = make(map[string]int)
	}
	if _, ok := r.Kinds[msg]; !ok && len(r.Kinds) >= maxKinds-1 {
		msg = "(other errors)"
	}
	r.Kinds[msg] += n
}

// merge adds o's requests to r's; Latencies are left unsorted.
func (r *Result) merge(o Result) {
	r.Latencies = append(r.Latencies, o.Latencies...)
	r.Errors += o.Errors
	if r.Err == nil {
		r.Err = o.Err
	}
	for msg, n := range o.Kinds {
		r.countKind(msg, n)
	}
}

// Merge is the results of loads run one after another as one: their
// requests, and their wall times added.
func Merge(results ...Result) Result {
	var all Result
	for _, r := range results {
		all.merge(r)
		all.Wall += r.Wall
	}
	slices.Sort(all.Latencies)
	return all
}

// Requests is the number of requests sent, successful or not.
func (r Result) Requests() int { return len(r.Latencies) + r.Errors }

// Percentile is the q-quantile (0 < q ≤ 1) of the successful requests'
// latencies, or 0 when there were none.
func (r Result) Percentile(q float64) time.Duration { return Percentile(r.Latencies, q) }

// Throughput is the number of successful requests per second of wall time.
func (r Result) Throughput() float64 {
	if r.Wall <= 0 {
		return 0
	}
	return float64(len(r.Latencies)) / r.Wall.Seconds()
}

// Add records one request that took d, or failed with err, keeping
// Latencies sorted. Run does this in bulk; Add is for measurements that time
// their requests themselves.
func (r *Result) Add(d time.Duration, err error) {
	if err != nil {
		r.addErr(err)
		return
	}
	i, _ := slices.BinarySearch(r.Latencies, d)
	r.Latencies = slices.Insert(r.Latencies, i, d)
}

// Run applies load with do, which sends one request and waits for its
// answer, and measures each call. All workers are released at once, so
// Load{Concurrency: n, Requests: n} is a burst of n simultaneous requests.
// Run stops early when ctx is done.
func Run(ctx context.Context, load Load, do func(context.Context) error) Result {
	workers := max(load.Concurrency, 1)
	limit := load.Requests
	if limit <= 0 && load.Duration <= 0 {
		limit = workers
	}
	if limit > 0 {
		workers = min(workers, limit)
	}
	var (
		sent    atomic.Int64
		mu      sync.Mutex
		res     Result
		wg      sync.WaitGroup
		release = make(chan struct{})
		start   time.Time
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-release
			var mine Result
			for ctx.Err() == nil {
				if limit > 0 {
					if sent.Add(1) > int64(limit) {
						break
					}
				} else if time.Since(start) >= load.Duration {
					break
				}
				t0 := time.Now()
				if err := do(ctx); err != nil {
					mine.addErr(err)
					continue
				}
				mine.Latencies = append(mine.Latencies, time.Since(t0))
			}
			mu.Lock()
			res.merge(mine)
			mu.Unlock()
		}()
	}
	start = time.Now()
	close(release)
	wg.Wait()
	res.Wall = time.Since(start)
	slices.Sort(res.Latencies)
	return res
}

// Percentile is the q-quantile (0 < q ≤ 1) of sorted by the nearest-rank
// method: the smallest value that at least q of the values do not exceed.
// It is 0 for no values.
func Percentile(sorted []time.Duration, q float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(n))) - 1
	return sorted[min(max(i, 0), n-1)]
}

// Ratio is a/b, or NaN when b is not positive: a figure beside its floor.
func Ratio(a, b float64) float64 {
	if b <= 0 {
		return math.NaN()
	}
	return a / b
}
