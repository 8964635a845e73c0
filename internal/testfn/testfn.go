// Package testfn builds the real aws-lambda-go function that Lambada's tests
// deploy (./fn), once per test binary, and the minimal raw Runtime API loop
// the benchmark measures the platform with (./minimal).
package testfn

import (
	"archive/zip"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
)

var (
	once    sync.Once
	built   []byte
	builtFn string
	err     error

	minimalOnce sync.Once
	minimal     []byte
	minimalErr  error
)

// Zip returns the function's deployment package: a zip holding one
// executable named bootstrap. The first call builds it (into dir, which the
// caller removes) with the go toolchain that runs the tests.
func Zip(dir string) ([]byte, error) {
	once.Do(func() { built, builtFn, err = build(dir, "fn") })
	return built, err
}

// MinimalZip returns the deployment package of the minimal runtime (see
// ./minimal), built on the first call into dir like Zip's.
func MinimalZip(dir string) ([]byte, error) {
	minimalOnce.Do(func() { minimal, _, minimalErr = build(filepath.Join(dir, "minimal"), "minimal") })
	return minimal, minimalErr
}

// Bootstrap returns the path of the built bootstrap (after Zip).
func Bootstrap() string { return builtFn }

// ZipWith returns a deployment package holding the function (after Zip)
// and the given extra files, so that tests can tell code revisions apart.
func ZipWith(files map[string]string) ([]byte, error) {
	bin, err := os.ReadFile(builtFn)
	if err != nil {
		return nil, err
	}
	return zipOf(bin, files)
}

// ZipFiles returns a deployment package of the given files (a name and
// its text), a managed runtime's function.
func ZipFiles(files map[string]string) ([]byte, error) { return zipOf(nil, files) }

// zipOf zips files and, unless bin is nil, an executable bootstrap of bin.
func zipOf(bin []byte, files map[string]string) ([]byte, error) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	if bin != nil {
		h := &zip.FileHeader{Name: "bootstrap", Method: zip.Deflate}
		h.SetMode(0o755)
		w, err := zw.CreateHeader(h)
		if err != nil {
			return nil, err
		}
		if _, err := w.Write(bin); err != nil {
			return nil, err
		}
	}
	for name, content := range files {
		w, err := zw.Create(name)
		if err != nil {
			return nil, err
		}
		if _, err := w.Write([]byte(content)); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// build builds the command in the directory name beside this file into
// dir/bootstrap and zips it.
func build(dir, name string) ([]byte, string, error) {
	_, self, _, _ := runtime.Caller(0)
	src := filepath.Join(filepath.Dir(self), name)
	out := filepath.Join(dir, "bootstrap")
	cmd := exec.Command("go", "build", "-o", out, ".")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return nil, "", fmt.Errorf("testfn: go build: %v\n%s", err, b)
	}
	bin, err := os.ReadFile(out)
	if err != nil {
		return nil, "", err
	}
	zipped, err := zipOf(bin, nil)
	if err != nil {
		return nil, "", err
	}
	return zipped, out, nil
}
