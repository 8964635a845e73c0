package bench

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// userHZ is the unit of the CPU times in /proc (USER_HZ), 100 on every
// Linux architecture Lambada runs on.
const userHZ = 100

// ProcessCPU returns the CPU time, user and system, that process pid and
// all its threads have used so far, from /proc/<pid>/stat. It excludes its
// children (functions are children of the node). Its resolution is 10 ms:
// measure windows of many requests.
func ProcessCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseStatCPU(string(b))
}

// parseStatCPU reads utime and stime, fields 14 and 15 of a /proc/<pid>/stat
// line; the command name (field 2) may hold spaces and parentheses.
func parseStatCPU(stat string) (time.Duration, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("bench: malformed /proc stat %q", stat)
	}
	f := strings.Fields(stat[i+1:]) // f[0] is field 3 (state)
	if len(f) < 13 {
		return 0, fmt.Errorf("bench: short /proc stat %q", stat)
	}
	var ticks int64
	for _, s := range f[11:13] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("bench: /proc stat: %w", err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / userHZ, nil
}

// DescendantsCPU returns the CPU time that the live descendants of process
// pid (for a node: its functions' processes) have used so far, found
// through /proc/<pid>/task/*/children. Descendants that exit within a
// window are missed; warm environments live through their loads. A
// descendant is read once even when listed twice.
func DescendantsCPU(pid int) (time.Duration, error) {
	var total time.Duration
	seen := map[int]bool{pid: true}
	todo := []int{pid}
	for len(todo) > 0 {
		p := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		children, err := childrenOf(p)
		if err != nil {
			if p == pid {
				return 0, err
			}
			continue // it exited meanwhile
		}
		for _, child := range children {
			if seen[child] {
				continue
			}
			seen[child] = true
			todo = append(todo, child)
			if d, err := ProcessCPU(child); err == nil {
				total += d
			}
		}
	}
	return total, nil
}

// Children counts the live child processes of pid that run function (for
// a node: its environments' runtimes), named in their environment.
func Children(pid int, function string) (int, error) {
	children, err := childrenOf(pid)
	if err != nil {
		return 0, err
	}
	want := []byte("\x00AWS_LAMBDA_FUNCTION_NAME=" + function + "\x00")
	n := 0
	for _, child := range children {
		if env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", child)); err == nil && bytes.Contains(append([]byte{0}, env...), want) {
			n++
		}
	}
	return n, nil
}

// childrenOf lists the live children of pid, each once, from
// /proc/<pid>/task/*/children.
func childrenOf(pid int) ([]int, error) {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return nil, err
	}
	var children []int
	seen := map[int]bool{}
	for _, t := range tasks {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/children", pid, t.Name()))
		for _, f := range strings.Fields(string(b)) {
			child, err := strconv.Atoi(f)
			if err != nil || seen[child] {
				continue
			}
			seen[child] = true
			children = append(children, child)
		}
	}
	return children, nil
}
