// Package runtimes holds Lambada's clients of the Runtime API for Lambda's
// managed runtimes (standard library only, embedded in the binary), and
// finds the interpreter each runtime identifier runs on.
package runtimes

import (
	_ "embed"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
)

//go:embed python.py
var python string

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
	// -u: print reaches the log as it is printed; -c: the client comes
	// from the binary, not from a file the environment must see.
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

// Use makes runtime (a Python one) run on the interpreter at path (its real
// executable is resolved), whose installation directory, the parent of its
// bin directory, environments are shown unless it is the host's /usr.
func Use(runtime, path string) error {
	if !strings.HasPrefix(runtime, "python3.") {
		return fmt.Errorf("runtimes: Lambada has no client of %s", runtime)
	}
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return fmt.Errorf("runtimes: %s: %w", runtime, err)
	}
	if !executable(real) {
		return fmt.Errorf("runtimes: %s: %s is not an executable file", runtime, real)
	}
	in := interpreter{path: real}
	if prefix := filepath.Dir(filepath.Dir(real)); !strings.HasPrefix(real, "/usr/") {
		in.dirs = []string{prefix}
	}
	mu.Lock()
	given[runtime] = in
	mu.Unlock()
	return nil
}

// discover finds, once, an interpreter for each Python runtime: the host's
// /usr/bin/python3.X, else the newest pyenv version 3.X.* (under
// $PYENV_ROOT, or ~/.pyenv), whose directory the environment is shown.
func discover() map[string]interpreter {
	out := map[string]interpreter{}
	pyenv := os.Getenv("PYENV_ROOT")
	if pyenv == "" {
		if home, err := os.UserHomeDir(); err == nil {
			pyenv = filepath.Join(home, ".pyenv")
		}
	}
	for minor := 9; minor <= 14; minor++ {
		name := "python3." + strconv.Itoa(minor)
		if p, err := filepath.EvalSymlinks("/usr/bin/" + name); err == nil && strings.HasPrefix(p, "/usr/") && executable(p) {
			out[name] = interpreter{path: p}
			continue
		}
		if pyenv == "" {
			continue
		}
		versions, _ := filepath.Glob(filepath.Join(pyenv, "versions", "3."+strconv.Itoa(minor)+".*"))
		slices.SortFunc(versions, func(a, b string) int { return patch(b) - patch(a) }) // newest first
		for _, v := range versions {
			p, err := filepath.EvalSymlinks(filepath.Join(v, "bin", name))
			if err == nil && executable(p) && strings.HasPrefix(p, v+"/") {
				out[name] = interpreter{path: p, dirs: []string{v}}
				break
			}
		}
	}
	return out
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
