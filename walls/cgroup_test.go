package walls

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// A hybrid host like the one the project builds on: v1 memory, an empty
// v2 hierarchy, and this process nested in a v1 memory cgroup.
const hybridMountinfo = `22 1 0:21 / /proc rw,nosuid - proc proc rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime shared:7 - cgroup cgroup rw,cpu
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime shared:9 - cgroup cgroup rw,memory
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`

const hybridCgroup = `9:name=systemd:/
4:memory:/process_api/94d8
1:cpu:/
0::/
`

func TestCgroup_ParseMountinfo(t *testing.T) {
	got := parseMountinfo([]byte(hybridMountinfo + `50 31 0:40 /docker/abc /mnt/with\040space rw - cgroup cgroup rw,cpuacct,memory
51 31 0:41 / /broken
`))
	want := []cgMount{
		{root: "/", point: "/sys/fs/cgroup/cpu"},
		{root: "/", point: "/sys/fs/cgroup/memory", memory: true},
		{root: "/", point: "/sys/fs/cgroup/unified", v2: true},
		{root: "/docker/abc", point: "/mnt/with space", memory: true},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("mounts\n%+v\nwant\n%+v", got, want)
	}
}

func TestCgroup_ParseProcCgroup(t *testing.T) {
	for _, tc := range []struct{ in, v2, v1 string }{
		{hybridCgroup, "/", "/process_api/94d8"},
		{"0::/system.slice/lambada.service\n", "/system.slice/lambada.service", ""},
		{"5:cpu,memory:/a\n", "", "/a"},
		{"5:memoryx:/a\n3:cpu:/b\n", "", ""},
		{"", "", ""},
	} {
		if v2, v1 := parseProcCgroup([]byte(tc.in)); v2 != tc.v2 || v1 != tc.v1 {
			t.Errorf("parseProcCgroup(%q) = %q, %q; want %q, %q", tc.in, v2, v1, tc.v2, tc.v1)
		}
	}
}

func TestCgroup_Candidates(t *testing.T) {
	for _, tc := range []struct {
		name, mountinfo, cgroup string
		want                    []string // "v2 home" or "v1 home", in order
	}{
		{"hybrid, nested v1", hybridMountinfo, hybridCgroup,
			[]string{"v2 /sys/fs/cgroup/unified", "v1 /sys/fs/cgroup/memory/process_api/94d8"}},
		{"v2 only", "30 1 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n", "0::/user.slice/x.scope\n",
			[]string{"v2 /sys/fs/cgroup/user.slice/x.scope"}},
		{"namespaced v2", "30 1 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n", "0::/\n",
			[]string{"v2 /sys/fs/cgroup"}},
		{"v1 bind of a subtree", "35 31 0:32 /docker/abc /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n", "4:memory:/docker/abc/fn\n",
			[]string{"v1 /sys/fs/cgroup/memory/fn"}},
		{"v1 mount not showing our cgroup", "35 31 0:32 /docker/abc /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n", "4:memory:/docker/abcd\n",
			nil},
		{"v1 path outside the namespace", hybridMountinfo, "4:memory:/../x\n", nil},
		{"no cgroup mounts", "22 1 0:21 / /proc rw - proc proc rw\n", hybridCgroup, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, h := range candidates([]byte(tc.mountinfo), []byte(tc.cgroup)) {
				v := "v1 "
				if h.v2 {
					v = "v2 "
				}
				got = append(got, v+h.home)
				if h.parent != filepath.Join(h.home, "lambada") {
					t.Errorf("parent %s of %s", h.parent, h.home)
				}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("candidates %q, want %q", got, tc.want)
			}
		})
	}
}

// fakeTree writes files (path → content) under a temporary directory.
func fakeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for path, content := range files {
		p := filepath.Join(root, path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func readTrim(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func TestCgroup_Probe(t *testing.T) {
	// The parent's control files exist in the fake tree already, as the
	// kernel makes them on mkdir in a real one.
	parentV2 := map[string]string{"home/lambada/cgroup.controllers": "cpu memory\n", "home/lambada/cgroup.subtree_control": ""}
	for _, tc := range []struct {
		name    string
		v2      bool
		files   map[string]string
		err     string
		written map[string]string // file → content after probe
	}{
		{"v2 memory already given to children", true,
			merge(parentV2, map[string]string{"home/cgroup.controllers": "cpu memory", "home/cgroup.subtree_control": "memory pids\n"}),
			"", map[string]string{"home/lambada/cgroup.subtree_control": "+memory"}},
		{"v2 memory enabled by us", true,
			merge(parentV2, map[string]string{"home/cgroup.controllers": "cpu io memory\n", "home/cgroup.subtree_control": "cpu\n"}),
			"", map[string]string{"home/cgroup.subtree_control": "+memory", "home/lambada/cgroup.subtree_control": "+memory"}},
		{"v2 without memory", true,
			map[string]string{"home/cgroup.controllers": "cpu io\n", "home/cgroup.subtree_control": ""},
			"the memory controller is not available", nil},
		{"v2 home missing", true, map[string]string{"other": ""}, "no such file", nil},
		{"v1", false, map[string]string{"home/memory.limit_in_bytes": "9223372036854771712\n"}, "", nil},
		{"v1 without memory", false, map[string]string{"home/cpu.shares": "1024\n"}, "no memory controller", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := fakeTree(t, tc.files)
			home := filepath.Join(root, "home")
			h := &hierarchy{v2: tc.v2, home: home, parent: filepath.Join(home, "lambada")}
			err := h.probe()
			if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Fatalf("probe: %v, want %q", err, tc.err)
			}
			for file, want := range tc.written {
				if got := readTrim(t, filepath.Join(root, file)); got != want {
					t.Errorf("%s = %q, want %q", file, got, want)
				}
			}
			if tc.err == "" && !tc.v2 {
				if _, err := os.Stat(h.parent); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("probe left %s behind", h.parent)
				}
			}
		})
	}
}

func merge(ms ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

func TestCgroup_SetLimit(t *testing.T) {
	for _, tc := range []struct {
		name  string
		v2    bool
		files []string
		want  map[string]string
		err   bool
	}{
		{"v1 with swap accounting", false, []string{"memory.limit_in_bytes", "memory.memsw.limit_in_bytes"},
			map[string]string{"memory.limit_in_bytes": "134217728", "memory.memsw.limit_in_bytes": "134217728"}, false},
		{"v1 without swap accounting", false, []string{"memory.limit_in_bytes"},
			map[string]string{"memory.limit_in_bytes": "134217728"}, false},
		{"v1 without memory", false, nil, nil, true},
		{"v2", true, []string{"memory.max", "memory.swap.max", "memory.oom.group"},
			map[string]string{"memory.max": "134217728", "memory.swap.max": "0", "memory.oom.group": "1"}, false},
		{"v2 without swap", true, []string{"memory.max"}, map[string]string{"memory.max": "134217728"}, false},
		{"v2 without memory", true, []string{"memory.swap.max"}, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files := map[string]string{}
			for _, f := range tc.files {
				files[f] = "max\n"
			}
			dir := fakeTree(t, files)
			if err := setLimit(dir, tc.v2, 128<<20); (err != nil) != tc.err {
				t.Fatalf("setLimit: %v", err)
			}
			for file, want := range tc.want {
				if got := readTrim(t, filepath.Join(dir, file)); got != want {
					t.Errorf("%s = %q, want %q", file, got, want)
				}
			}
		})
	}
}

// The parent exists while environments' cgroups do, comes back if another
// process took it away, and leaves with the last one.
func TestCgroup_ParentLifecycle(t *testing.T) {
	home := t.TempDir()
	h := &hierarchy{home: home, parent: filepath.Join(home, "lambada")}
	quiet := slog.New(slog.DiscardHandler)
	a, err := h.newDir()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(a); err != nil { // as if a's environment had ended...
		t.Fatal(err)
	}
	if err := os.Remove(h.parent); err != nil { // ...and another process had removed the parent
		t.Fatal(err)
	}
	b, err := h.newDir()
	if err != nil || a == b {
		t.Fatalf("second cgroup %q (first %q): %v", b, a, err)
	}
	h.envs = 1
	(&memcg{h: h, dir: b}).remove(quiet)
	if _, err := os.Stat(h.parent); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("parent remains after the last cgroup: %v", err)
	}
}

func TestCgroup_FlatKeyed(t *testing.T) {
	oomControl := []byte("oom_kill_disable 0\nunder_oom 0\noom_kill 2\n")
	events := []byte("low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\noom_group_kill 1\n")
	for _, tc := range []struct {
		b    []byte
		key  string
		want int64
		ok   bool
	}{
		{oomControl, "oom_kill", 2, true},
		{oomControl, "under_oom", 0, true},
		{events, "oom_kill", 1, true},
		{events, "max", 12, true},
		{events, "oom_kil", 0, false},
	} {
		if got, ok := flatKeyed(tc.b, tc.key); got != tc.want || ok != tc.ok {
			t.Errorf("flatKeyed(%q) = %d, %v", tc.key, got, ok)
		}
	}
}
