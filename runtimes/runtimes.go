// Package runtimes holds Lambada's clients of the Runtime API for Lambda's
// managed runtimes (standard library only, embedded in the binary), and
// finds the interpreter each runtime identifier runs on.
package runtimes

import (
	_ "embed"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
)

//go:embed python.py
var python string

//go:embed node.js
var node string

// Start is how an environment of a managed runtime starts.
type Start struct {
	Args []string // the interpreter, with Lambada's client of the runtime
	// Dirs are host directories the interpreter needs that an
	// environment's walls do not show (they show the host's /usr): to be
	// shown read-only at the same paths.
	Dirs []string
}

// Command returns how a function of runtime (an identifier such as
// "python3.11") starts with Lambada's runtime client, and whether Lambada
// runs that runtime on this host.
func Command(runtime string) (Start, bool) {
	in, ok := interpreters()[runtime]
	if !ok {
		return Start{}, false
	}
	if strings.HasPrefix(runtime, "nodejs") {
		// -e: the client comes from the binary, not from a file the
		// environment must see.
		return Start{Args: []string{in.path, "-e", node}, Dirs: in.dirs}, true
	}
	// -u: print reaches the log as it is printed.
	return Start{Args: []string{in.path, "-u", "-c", python}, Dirs: in.dirs}, true
}

// Available lists the runtimes of Lambada's clients that this host has an
// interpreter for.
func Available() []string {
	var out []string
	for r := range interpreters() {
		out = append(out, r)
	}
	slices.Sort(out)
	return out
}

// interpreter is a runtime's interpreter on this host: its real
// executable, never a shim, and the directories it needs beyond /usr.
type interpreter struct {
	path string
	dirs []string
}

var (
	found = sync.OnceValue(discover)

	mu    sync.Mutex
	given = map[string]interpreter{} // by Use
)

// interpreters returns the interpreter of each runtime: as Use gave it, else
// as found on the host.
func interpreters() map[string]interpreter {
	out := maps.Clone(found())
	mu.Lock()
	defer mu.Unlock()
	maps.Copy(out, given)
	return out
}

// Use makes runtime (a Python or Node.js one) run on the interpreter at path
// (its real executable is resolved), whose installation directory, the
// parent of its bin directory, environments are shown unless it is the
// host's /usr.
func Use(runtime, path string) error {
	if !Managed(runtime) {
		return fmt.Errorf("runtimes: Lambada has no client of %s", runtime)
	}
	if _, err := filepath.EvalSymlinks(path); err != nil {
		return fmt.Errorf("runtimes: %s: %w", runtime, err)
	}
	in, ok := resolve(path)
	if !ok {
		return fmt.Errorf("runtimes: %s: %s is not an executable file (nor a link to one; scripts are refused)", runtime, path)
	}
	mu.Lock()
	given[runtime] = in
	mu.Unlock()
	return nil
}

// Managed reports whether runtime is one Lambada has a client of: python3.X
// or nodejsNN.x.
func Managed(runtime string) bool {
	return strings.HasPrefix(runtime, "python3.") || strings.HasPrefix(runtime, "nodejs")
}

// discover finds, once, an interpreter for each runtime: for Python 3.X the
// host's /usr/bin/python3.X, else python3.X on PATH, else the newest pyenv
// version 3.X.* (under $PYENV_ROOT, or ~/.pyenv); for Node.js NN, the first
// node on PATH (or /usr/bin, /usr/local/bin, nvm's versions) whose version
// is NN. Shims (scripts) are never used; an interpreter outside /usr has
// its installation directory shown to environments.
func discover() map[string]interpreter {
	out := map[string]interpreter{}
	pathDirs := filepath.SplitList(os.Getenv("PATH"))
	pyenv := os.Getenv("PYENV_ROOT")
	home, _ := os.UserHomeDir()
	if pyenv == "" && home != "" {
		pyenv = filepath.Join(home, ".pyenv")
	}
	for minor := 9; minor <= 14; minor++ {
		name := "python3." + strconv.Itoa(minor)
		candidates := []string{"/usr/bin/" + name}
		for _, d := range pathDirs {
			candidates = append(candidates, filepath.Join(d, name))
		}
		if pyenv != "" {
			versions, _ := filepath.Glob(filepath.Join(pyenv, "versions", "3."+strconv.Itoa(minor)+".*"))
			slices.SortFunc(versions, func(a, b string) int { return patch(b) - patch(a) }) // newest first
			for _, v := range versions {
				candidates = append(candidates, filepath.Join(v, "bin", name))
			}
		}
		for _, c := range candidates {
			if in, ok := resolve(c); ok {
				out[name] = in
				break
			}
		}
	}
	var nodes []string
	for _, d := range pathDirs {
		nodes = append(nodes, filepath.Join(d, "node"))
	}
	nodes = append(nodes, "/usr/bin/node", "/usr/local/bin/node")
	nvm := os.Getenv("NVM_DIR")
	if nvm == "" && home != "" {
		nvm = filepath.Join(home, ".nvm")
	}
	if nvm != "" {
		vs, _ := filepath.Glob(filepath.Join(nvm, "versions", "node", "v*", "bin", "node"))
		nodes = append(nodes, vs...)
	}
	seen := map[string]bool{}
	for _, c := range nodes {
		in, ok := resolve(c)
		if !ok || seen[in.path] {
			continue
		}
		seen[in.path] = true
		major := nodeMajor(in.path)
		if name := "nodejs" + strconv.Itoa(major) + ".x"; major >= 18 && major <= 24 && out[name].path == "" {
			out[name] = in
		}
	}
	return out
}

// resolve returns the interpreter that path leads to: its real executable,
// which must not be a script (a shim), and, outside /usr, the directory it
// is installed in (the parent of its bin directory).
func resolve(path string) (interpreter, bool) {
	p, err := filepath.EvalSymlinks(path)
	if err != nil || !executable(p) || script(p) {
		return interpreter{}, false
	}
	in := interpreter{path: p}
	if !strings.HasPrefix(p, "/usr/") {
		in.dirs = []string{filepath.Dir(filepath.Dir(p))}
	}
	return in, true
}

// script reports whether the file at path starts with "#!".
func script(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return true
	}
	defer f.Close()
	var b [2]byte
	n, _ := f.Read(b[:])
	return n == 2 && string(b[:]) == "#!"
}

// nodeMajor is the major version of the node executable at path (0: none),
// asked of it with an empty environment.
func nodeMajor(path string) int {
	cmd := exec.Command(path, "--version")
	cmd.Env = []string{}
	out, err := cmd.Output()
	if err != nil {
		return 0
	}
	v := strings.TrimPrefix(strings.TrimSpace(string(out)), "v")
	major, _ := strconv.Atoi(strings.Split(v, ".")[0])
	return major
}

// patch is the patch number of a version directory 3.X.Y (-1: none).
func patch(dir string) int {
	base := filepath.Base(dir)
	n, err := strconv.Atoi(base[strings.LastIndex(base, ".")+1:])
	if err != nil {
		return -1
	}
	return n
}

// executable reports whether path is a regular file anyone may run.
func executable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o001 != 0
}

// SpareVariable marks a process of Lambada's Node.js client started as a
// spare: it waits on its standard input for its environment (node.js).
const SpareVariable = "LAMBADA_SPARE=1"

// Spared reports whether environments of runtime start from spares (its
// interpreter cannot fork: Node.js).
func Spared(runtime string) bool {
	_, ok := interpreters()[runtime]
	return ok && strings.HasPrefix(runtime, "nodejs")
}
