package sandbox

import (
	"bytes"
	"errors"
	"os"
	"sync"
	"syscall"
)

// maxLine bounds one log line: a function that prints megabytes without a
// newline has its output cut into lines of this size.
const maxLine = 256 << 10

// output reads a function's stdout and stderr (one pipe) and hands the text
// on line by line. A background goroutine reads as output arrives; drain
// reads synchronously whatever is buffered in the pipe, so that everything a
// runtime printed before calling the Runtime API is accounted to the right
// invocation. Both read the non-blocking descriptor under one mutex, so no
// byte can be between the pipe and the line handler when drain returns.
type output struct {
	f      *os.File
	fd     int
	onLine func(line []byte) // called with mu held, in order

	mu      sync.Mutex
	partial []byte
	buf     []byte
	eof     bool
	closed  bool          // the descriptor is closed: never read it again
	done    chan struct{} // closed when the reader goroutine ends
}

func newOutput(f *os.File, onLine func([]byte)) (*output, error) {
	o := &output{f: f, onLine: onLine, buf: make([]byte, 32<<10), done: make(chan struct{})}
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, err
	}
	if err := rc.Control(func(fd uintptr) { o.fd = int(fd) }); err != nil {
		return nil, err
	}
	return o, nil
}

// run reads until the write ends are all closed (the process group exited).
func (o *output) run() {
	defer close(o.done)
	rc, err := o.f.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Read(func(uintptr) bool { return o.drain() })
}

// drain reads what the pipe holds now and reports whether it reached EOF.
func (o *output) drain() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	for !o.eof && !o.closed {
		n, err := syscall.Read(o.fd, o.buf)
		if n > 0 {
			o.split(o.buf[:n])
			continue
		}
		if errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EINTR) {
			return false
		}
		o.eof = true // n == 0 (EOF) or a hard error
		o.flushLocked()
	}
	return true
}

// flush hands on a final line that had no newline.
func (o *output) flush() {
	o.drain()
	o.mu.Lock()
	o.flushLocked()
	o.mu.Unlock()
}

func (o *output) flushLocked() {
	if len(o.partial) > 0 {
		o.onLine(o.partial)
		o.partial = o.partial[:0]
	}
}

func (o *output) split(b []byte) {
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			o.partial = append(o.partial, b...)
			if len(o.partial) >= maxLine {
				o.flushLocked()
			}
			return
		}
		if len(o.partial) > 0 {
			o.partial = append(o.partial, b[:i+1]...)
			o.flushLocked()
		} else {
			o.onLine(b[:i+1])
		}
		b = b[i+1:]
	}
}

// closeRead reads what is left and closes the read end, which also stops
// the reader goroutine even if a stray process still holds the write end.
func (o *output) closeRead() {
	o.flush()
	o.mu.Lock()
	o.closed = true
	o.mu.Unlock()
	_ = o.f.Close()
	<-o.done
}
