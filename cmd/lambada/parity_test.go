package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/lambada-dev/lambada/internal/testfn"
)

// bigFiles is how many extra files BIG_ZIP holds: enough that preparing it
// (creating ten thousand files, 16 at a time; 3000 were once enough, until
// a loaded run prepared them faster than boto3 made four calls)
// takes far longer than a few boto3 calls, so that the script sees a
// function while it is Pending or InProgress.
const bigFiles = 10000

// TestParity runs testdata/parity.py: the control plane's answers, checked
// through boto3 against a real node, one subtest per case.
func TestParity(t *testing.T) {
	t.Parallel()
	m := MustOpenMain(t, "")
	dir := t.TempDir()
	write := func(name string, files map[string]string) string {
		zip, err := testfn.ZipWith(files)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, zip, 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	big := func(tag string) map[string]string {
		files := map[string]string{"tag.txt": tag}
		for i := range bigFiles {
			files[fmt.Sprintf("data/%04d.txt", i)] = fmt.Sprint(i)
		}
		return files
	}
	runCases(t, "testdata/parity.py", 0, "LAMBADA_ENDPOINT=http://"+m.Addr(),
		"FN_ZIP="+write("a.zip", map[string]string{"tag.txt": "A"}),
		"FN_ZIP_B="+write("b.zip", map[string]string{"tag.txt": "B"}),
		"BIG_ZIP="+write("big.zip", big("big")),
		"BIG_ZIP_2="+write("big2.zip", big("big2")))
}

// runCases runs a Python script of cases with env added to the
// environment; the script prints one JSON line per case, {"case": name,
// "error": null or what went wrong}, and each becomes a subtest. want is
// the number of cases it must run (0: at least one).
func runCases(t *testing.T, script string, want int, env ...string) {
	t.Helper()
	cmd := exec.Command("python3", script)
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", script, err, stderr.Bytes())
	}
	cases := 0
	for sc := bufio.NewScanner(bytes.NewReader(out)); sc.Scan(); {
		var res struct {
			Case  string  `json:"case"`
			Error *string `json:"error"`
		}
		if err := json.Unmarshal(sc.Bytes(), &res); err != nil {
			t.Fatalf("%s printed %q", script, sc.Text())
		}
		cases++
		t.Run(res.Case, func(t *testing.T) {
			if res.Error != nil {
				t.Fatal(*res.Error)
			}
		})
	}
	if cases == 0 || want != 0 && cases != want {
		t.Fatalf("%s ran %d cases, want %d\n%s", script, cases, want, stderr.Bytes())
	}
}
