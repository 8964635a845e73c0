// Package runtimes holds Lambada's clients of the Runtime API for Lambda's
// managed runtimes (standard library only, embedded in the binary), and
// finds the interpreter each runtime identifier runs on.
package runtimes

import (
	_ "embed"
	"os"
	"strconv"
	"strings"
)

//go:embed python.py
var python string

// Command returns the command line that runs a function of runtime (an
// identifier such as "python3.11") with Lambada's runtime client, and
// whether Lambada runs that runtime. The interpreter must be one the
// environment's walls show: the host's /usr.
func Command(runtime string) ([]string, bool) {
	if !strings.HasPrefix(runtime, "python3.") {
		return nil, false
	}
	interp := "/usr/bin/" + runtime
	if fi, err := os.Stat(interp); err != nil || fi.IsDir() {
		return nil, false
	}
	// -u: print reaches the log as it is printed; -c: the client comes
	// from the binary, not from a file the environment must see.
	return []string{interp, "-u", "-c", python}, true
}

// Available lists the runtimes of Lambada's clients that this host has an
// interpreter for.
func Available() []string {
	var out []string
	for minor := 9; minor <= 14; minor++ {
		r := "python3." + strconv.Itoa(minor)
		if _, ok := Command(r); ok {
			out = append(out, r)
		}
	}
	return out
}
