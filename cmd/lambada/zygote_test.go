package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
)

// wallsPy reports what a Python environment sees of its walls.
const wallsPy = `import __main__, os, resource

def tryr(path):
    try:
        open(path).read()
        return "readable"
    except OSError as e:
        return e.strerror

def tryw(path):
    try:
        open(path, "w")
        return "writable"
    except OSError as e:
        return e.strerror

def handler(event, context):
    if event.get("action") == "grow":
        chunks = []
        while True:
            chunks.append(bytearray(16 << 20))
    fds = {}
    for fd in os.listdir("/proc/self/fd"):
        try:
            fds[fd] = os.readlink("/proc/self/fd/" + fd)
        except OSError as e:
            fds[fd] = e.strerror
    return {"forked": getattr(__main__, "forked", False), "uid": os.getuid(), "gid": os.getgid(),
            "euid": os.geteuid(), "groups": os.getgroups(), "pid": os.getpid(), "sid": os.getsid(0),
            "nofile": resource.getrlimit(resource.RLIMIT_NOFILE), "nproc": resource.getrlimit(resource.RLIMIT_NPROC),
            "root": sorted(os.listdir("/")), "task": tryw("/var/task/x"), "rootw": tryw("/x"),
            "fds": fds, "cgroup": open("/proc/self/cgroup").read(), "tty": tryw("/dev/tty"),
            "environ": tryr("/proc/self/environ")}
`

type wallsSeen struct {
	Forked           bool
	UID, GID, EUID   int
	Groups           []int
	PID, SID         int
	NoFile, NProc    [2]int
	Root             []string
	Task, RootW, TTY string
	Environ          string // its /proc/self files are its own
	FDs              map[string]string
	Cgroup           string
}

// A Python environment forked by its runtime's zygote is in the same walls
// as one started by exec: its own uid, pid 1 of its namespaces in a
// session of its own, the limits, the root, the memory cgroup (its
// out-of-memory kill reported as such), nothing of the zygote's open; a
// killed zygote is replaced, and what it forked goes on.
func TestZygote(t *testing.T) {
	t.Parallel()
	const runtime = "python3.11"
	needWalls(t, runtime)
	zip := zipOf(t, map[string]string{"app.py": wallsPy})
	create := func(m *Main, name string) {
		t.Helper()
		createWithCLI(t, m, name, runtime, "app.handler", zip)
	}
	look := func(m *Main, name string) wallsSeen {
		t.Helper()
		out, _ := sdkInvoke(t, client(m), &lambda.InvokeInput{FunctionName: aws.String(name)})
		var w wallsSeen
		if out.FunctionError != nil || json.Unmarshal(out.Payload, &w) != nil {
			t.Fatalf("%s: %s", name, out.Payload)
		}
		return w
	}
	for _, zygotes := range []bool{true, false} {
		m := MustOpenMain(t, "", func(m *Main) { m.NoZygotes = !zygotes })
		if m.jail == nil {
			t.Skipf("no jail here: %v", m.noJail)
		}
		create(m, "a")
		create(m, "b")
		a, b := look(m, "a"), look(m, "b")
		if a.Forked != zygotes || b.Forked != zygotes {
			t.Errorf("zygotes %v: forked %v, %v", zygotes, a.Forked, b.Forked)
		}
		for _, w := range []wallsSeen{a, b} {
			sockets := 0
			for fd, target := range w.FDs {
				switch {
				case fd == "0" && target == "/dev/null", fd == "1" || fd == "2":
				case strings.HasPrefix(target, "socket:"):
					sockets++ // its Runtime API connection
				case target == "No such file or directory": // the listing's own, closed since
				default:
					t.Errorf("zygotes %v: fd %s open on %s", zygotes, fd, target)
				}
			}
			if w.UID < int(m.FirstUID) || w.UID != w.GID || w.UID != w.EUID || len(w.Groups) != 0 || w.PID != 1 || w.SID != 1 ||
				w.NoFile != [2]int{1024, 1024} || w.NProc != [2]int{1024, 1024} || sockets > 1 ||
				strings.Join(w.Root, " ") != "bin dev etc lib lib64 opt proc root sbin tmp usr var" && strings.Join(w.Root, " ") != "bin dev etc lib lib64 opt proc sbin tmp usr var" ||
				w.Task != "Read-only file system" || w.RootW != "Read-only file system" || w.TTY == "writable" || w.Environ != "readable" {
				t.Errorf("zygotes %v: an environment sees %+v", zygotes, w)
			}
			if !strings.Contains(w.Cgroup, "/lambada/") {
				t.Fatalf("zygotes %v: an environment is outside its memory cgroup: %s", zygotes, w.Cgroup)
			}
		}
		if a.UID == b.UID {
			t.Errorf("zygotes %v: two environments share uid %d", zygotes, a.UID)
		}
		out, _ := sdkInvoke(t, client(m), &lambda.InvokeInput{FunctionName: aws.String("a"), Payload: []byte(`{"action":"grow"}`)})
		if !strings.Contains(string(out.Payload), `"errorType":"Runtime.OutOfMemory"`) {
			t.Errorf("zygotes %v: past its memory: %s", zygotes, out.Payload)
		}
		if !zygotes {
			continue
		}
		// The zygote dies: the next environment is forked by another, and
		// b's, forked by the first, still answers.
		pids := m.zygotes.Running()
		if len(pids) != 1 {
			t.Fatalf("zygotes running: %v, want one", pids)
		}
		if err := syscall.Kill(pids[0], syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		create(m, "c")
		if c := look(m, "c"); !c.Forked {
			t.Errorf("after the zygote died, an environment was not forked: %+v", c)
		}
		if b2 := look(m, "b"); b2.UID != b.UID {
			t.Errorf("b's environment did not outlive its zygote: uid %d, then %d", b.UID, b2.UID)
		}
	}
}

// A zygote never holds a function's environment: its children, which
// inherit its memory, cannot find another function's secrets in it.
func TestZygote_NoSecrets(t *testing.T) {
	t.Parallel()
	const runtime = "python3.11"
	m := openWalled(t, runtime)
	secret := fmt.Sprintf("secret-%x", rand.Uint64())
	zip := zipOf(t, map[string]string{"app.py": "import os\n\ndef handler(event, context):\n    return os.environ['SECRET']\n"})
	for _, name := range []string{"a", "b"} { // b's environment is a child parked after a's ran
		createWithCLI(t, m, name, runtime, "app.handler", zip, "--environment", "Variables={SECRET="+secret+"}")
		if out, _ := sdkInvoke(t, client(m), &lambda.InvokeInput{FunctionName: aws.String(name)}); string(out.Payload) != `"`+secret+`"` {
			t.Fatalf("%s answered %s", name, out.Payload)
		}
	}
	pids := m.zygotes.Running()
	if len(pids) != 1 {
		t.Fatalf("zygotes running: %v", pids)
	}
	if found, err := memoryHolds(pids[0], []byte(secret)); err != nil {
		t.Fatal(err)
	} else if found {
		t.Errorf("the zygote's memory holds a function's environment variable")
	}
}

// memoryHolds reports whether the memory of process pid holds b.
func memoryHolds(pid int, b []byte) (bool, error) {
	maps, err := os.ReadFile(fmt.Sprintf("/proc/%d/maps", pid))
	if err != nil {
		return false, err
	}
	mem, err := os.Open(fmt.Sprintf("/proc/%d/mem", pid))
	if err != nil {
		return false, err
	}
	defer mem.Close()
	for _, line := range strings.Split(string(maps), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || f[1][0] != 'r' || strings.Contains(line, "[vvar") || strings.Contains(line, "[vsyscall]") {
			continue
		}
		lo, hi, _ := strings.Cut(f[0], "-")
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 != nil || err2 != nil {
			continue
		}
		buf := make([]byte, end-start)
		n, _ := mem.ReadAt(buf, int64(start))
		if bytes.Contains(buf[:n], b) {
			return true, nil
		}
	}
	return false, nil
}
