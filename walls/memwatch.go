package walls

import (
	"bytes"
	"os"
	"strconv"
	"sync/atomic"
	"time"
)

// watchEvery is how often an rssWatch samples while an invocation runs.
const watchEvery = 50 * time.Millisecond

// rssWatch is the fallback where no memory cgroup can be made: it samples
// the resident memory of an environment's processes (the runtime and its
// descendants) while an invocation runs, and kills the process group when it
// exceeds the limit. Sampling can miss a spike shorter than watchEvery, and
// memory is only counted once it is resident; a cgroup has neither flaw.
type rssWatch struct {
	pid     int
	limitKB int
	kill    func()

	active atomic.Bool
	killed atomic.Bool   // the watch killed the environment
	wake   chan struct{} // capacity 1
	stop   chan struct{}
	done   chan struct{}
}

// newRSSWatch starts watching pid's tree against limitMB; it samples
// only between running(true) and running(false), and ends with close.
func newRSSWatch(pid, limitMB int, kill func()) *rssWatch {
	w := &rssWatch{pid: pid, limitKB: limitMB << 10, kill: kill,
		wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go w.run()
	return w
}

// running tells the watch whether an invocation runs.
func (w *rssWatch) running(on bool) {
	if w.active.Swap(on) != on && on {
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
}

// close stops the watch and waits for its goroutine.
func (w *rssWatch) close() {
	close(w.stop)
	<-w.done
}

func (w *rssWatch) run() {
	defer close(w.done)
	t := time.NewTimer(watchEvery)
	t.Stop()
	defer t.Stop()
	for {
		select { // idle
		case <-w.stop:
			return
		case <-w.wake:
		}
		for ticking := true; ticking; {
			t.Reset(watchEvery)
			select {
			case <-w.stop:
				return
			case <-t.C:
			}
			if w.active.Load() && treeRSSKB(w.pid, 0) > w.limitKB {
				w.killed.Store(true)
				w.kill()
			}
			ticking = w.active.Load() && !w.killed.Load()
		}
	}
}

// treeRSSKB is the resident memory of pid and its descendants in KB (0 for a
// process that is gone). Descendants come from /proc/<pid>/task/*/children;
// a kernel without them counts pid alone.
func treeRSSKB(pid, depth int) int {
	p := "/proc/" + strconv.Itoa(pid)
	b, err := os.ReadFile(p + "/status")
	if err != nil {
		return 0
	}
	kb := statusKB(b, "VmRSS:")
	if depth > 32 {
		return kb
	}
	tasks, _ := os.ReadDir(p + "/task")
	for _, t := range tasks {
		children, _ := os.ReadFile(p + "/task/" + t.Name() + "/children")
		for _, f := range bytes.Fields(children) {
			if child, err := strconv.Atoi(string(f)); err == nil {
				kb += treeRSSKB(child, depth+1)
			}
		}
	}
	return kb
}

// statusKB reads a "Key: N kB" field of /proc/<pid>/status; 0 if absent.
func statusKB(b []byte, key string) int {
	i := bytes.Index(b, []byte(key))
	if i < 0 {
		return 0
	}
	f := bytes.Fields(b[i+len(key):])
	if len(f) == 0 {
		return 0
	}
	kb, _ := strconv.Atoi(string(f[0]))
	return kb
}
