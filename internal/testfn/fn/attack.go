package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// attackParams are the targets of an attack, in the event's value.
type attackParams struct {
	PIDs   []int    `json:"pids"`   // kill: host pids to signal
	Read   []string `json:"read"`   // files: paths to read
	Write  []string `json:"write"`  // files: paths to write
	Addr   string   `json:"addr"`   // steal: another environment's Runtime API
	Tries  int      `json:"tries"`  // steal: how many times
	Max    int      `json:"max"`    // forkbomb: processes, filltmp: MB, output: MB
	Limits bool     `json:"limits"` // fds: also try to raise the limit
}

// attack is what a hostile function tries (the event's msg names it); it
// answers what each attempt got, so that a test can check every one failed.
func attack(ev event) (any, error) {
	var p attackParams
	if len(ev.Value) > 0 {
		if err := json.Unmarshal(ev.Value, &p); err != nil {
			return nil, err
		}
	}
	switch ev.Msg {
	case "kill": // signal the node and other environments, by host pid
		out := map[string]string{"ppid": strconv.Itoa(os.Getppid())}
		for _, pid := range p.PIDs {
			out[strconv.Itoa(pid)] = errText(syscall.Kill(pid, syscall.SIGKILL))
		}
		return out, nil
	case "files": // read and write what is not the function's
		out := map[string]string{}
		for _, path := range p.Read {
			b, err := os.ReadFile(path)
			out["read "+path] = errText(err) + fmt.Sprintf(" (%d bytes)", len(b))
		}
		for _, path := range p.Write {
			out["write "+path] = errText(errors.Join(os.WriteFile(path, []byte("#!/bin/sh\necho owned\n"), 0o755), os.Chmod(path, 0o777)))
		}
		return out, nil
	case "proc": // the processes it can see
		ents, err := os.ReadDir("/proc")
		if err != nil {
			return nil, err
		}
		var pids []int
		for _, e := range ents {
			if pid, err := strconv.Atoi(e.Name()); err == nil {
				pids = append(pids, pid)
			}
		}
		return map[string]any{"pids": pids, "self": os.Getpid()}, nil
	case "steal": // take another environment's invocation from its Runtime API
		return steal(p.Addr, p.Tries), nil
	case "forkbomb": // start processes until refused (by raw fork and exec: os/exec would hold a descriptor for each)
		var pids []int
		var last error
		for len(pids) < p.Max {
			var pid int
			if pid, last = syscall.ForkExec("/bin/sleep", []string{"sleep", "60"}, nil); last != nil {
				break
			}
			pids = append(pids, pid)
		}
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			_, _ = syscall.Wait4(pid, nil, 0, nil)
		}
		return map[string]any{"started": len(pids), "err": errText(last)}, nil
	case "filltmp": // write /tmp past its size
		f, err := os.Create("/tmp/fill")
		if err != nil {
			return nil, err
		}
		defer os.Remove("/tmp/fill")
		defer f.Close()
		chunk := make([]byte, 1<<20)
		mb := 0
		for ; mb < p.Max; mb++ {
			if _, err = f.Write(chunk); err != nil {
				break
			}
		}
		return map[string]any{"mb": mb, "err": errText(err)}, nil
	case "output": // write p.Max MB to stdout, in lines of 1 KB
		line := strings.Repeat("x", 1023) + "\n"
		w := bufio.NewWriterSize(os.Stdout, 1<<16)
		n := 0
		for n < p.Max<<20 {
			k, err := w.WriteString(line)
			n += k
			if err != nil {
				return nil, err
			}
		}
		return map[string]any{"bytes": n}, w.Flush()
	case "undie": // clear its parent-death signal, to outlive the node
		_, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, syscall.PR_SET_PDEATHSIG, 0, 0)
		return map[string]string{"prctl": errText(errnoErr(errno))}, nil
	case "fds": // open files until refused, and try to raise the limit
		return fileLimits()
	}
	return nil, fmt.Errorf("no attack %q", ev.Msg)
}

// steal tries to take an invocation from the Runtime API at addr, tries
// times, and counts how each try ended.
func steal(addr string, tries int) map[string]int {
	out := map[string]int{}
	for range tries {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			out["refused"]++
			continue
		}
		_ = c.SetDeadline(time.Now().Add(2 * time.Second))
		_, err = c.Write([]byte("GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: " + addr + "\r\n\r\n"))
		var status string
		if err == nil {
			status, err = bufio.NewReader(c).ReadString('\n')
		}
		c.Close()
		switch {
		case err == nil:
			out["answered "+strings.TrimSpace(status)]++
		case errors.Is(err, os.ErrDeadlineExceeded):
			out["no answer"]++
		default:
			out["closed"]++
		}
	}
	return out
}

// errnoErr is errno as an error, nil for 0.
func errnoErr(errno syscall.Errno) error {
	if errno == 0 {
		return nil
	}
	return errno
}

// errText is an error's text, or "ok".
func errText(err error) string {
	if err == nil {
		return "ok"
	}
	return err.Error()
}
