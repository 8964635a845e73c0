package logsapi

import "testing"

func TestPattern(t *testing.T) {
	const (
		errLine  = `{"level":"ERROR","msg":"disk full","ms":250,"ok":false,"user":{"name":"alice","tags":["a","b"]},"none":null}` + "\n"
		infoLine = `{"level":"INFO","msg":"ok","ms":12}` + "\n"
		plain    = "user alice logged in from 10.0.0.1\n"
		report   = "REPORT RequestId: r\tDuration: 1.00 ms\t\n"
	)
	lines := []string{errLine, infoLine, plain, report}
	for _, c := range []struct {
		pattern string
		want    []bool // of errLine, infoLine, plain, report
	}{
		{"", []bool{true, true, true, true}},
		{"   ", []bool{true, true, true, true}},
		{"alice", []bool{true, false, true, false}},
		{"Alice", []bool{false, false, false, false}}, // case-sensitive
		{"alice logged", []bool{false, false, true, false}},
		{"logged alice", []bool{false, false, true, false}}, // any order
		{`"alice logged"`, []bool{false, false, true, false}},
		{`"logged alice"`, []bool{false, false, false, false}},
		{"?REPORT ?ERROR", []bool{true, false, false, true}},
		{"alice -logged", []bool{true, false, false, false}},
		{"-alice", []bool{false, true, false, true}},
		{"?ok -ERROR", []bool{false, true, false, false}},
		{"%Dur[a-z]+%", []bool{false, false, false, true}},
		{"%10\\.0\\.0\\.[0-9]%", []bool{false, false, true, false}},
		{`{ $.level = "ERROR" }`, []bool{true, false, false, false}},
		{`{$.level="ERROR"}`, []bool{true, false, false, false}},
		{`{ $.level != "ERROR" }`, []bool{false, true, false, false}},
		{`{ $.level = ERROR }`, []bool{true, false, false, false}},
		{`{ $.msg = "disk*" }`, []bool{true, false, false, false}},
		{`{ $.msg = "*" }`, []bool{true, true, false, false}},
		{`{ $.ms > 100 }`, []bool{true, false, false, false}},
		{`{ $.ms <= 12 }`, []bool{false, true, false, false}},
		{`{ $.ms = 250 }`, []bool{true, false, false, false}},
		{`{ $.ms != 250 }`, []bool{false, true, false, false}},
		{`{ $.ms >= 12 && $.level = "INFO" }`, []bool{false, true, false, false}},
		{`{ $.ms > 1000 || $.level = "INFO" }`, []bool{false, true, false, false}},
		{`{ ($.ms > 100 || $.level = "INFO") && $.msg = "ok" }`, []bool{false, true, false, false}},
		{`{ $.user.name = "alice" }`, []bool{true, false, false, false}},
		{`{ $.user.tags[1] = "b" }`, []bool{true, false, false, false}},
		{`{ $.user.tags[2] = "b" }`, []bool{false, false, false, false}},
		{`{ $.ok IS FALSE }`, []bool{true, false, false, false}},
		{`{ $.ok IS TRUE }`, []bool{false, false, false, false}},
		{`{ $.none IS NULL }`, []bool{true, false, false, false}},
		{`{ $.user NOT EXISTS }`, []bool{false, true, false, false}},
		{`{ $.user EXISTS }`, []bool{true, false, false, false}},
		{`{ $.missing = "x" }`, []bool{false, false, false, false}},
	} {
		p, err := ParsePattern(c.pattern)
		if err != nil {
			t.Errorf("ParsePattern(%q): %v", c.pattern, err)
			continue
		}
		for i, line := range lines {
			if got := p.Match(line); got != c.want[i] {
				t.Errorf("%q matches %q: %v, want %v", c.pattern, line, got, c.want[i])
			}
		}
	}
	for _, bad := range []string{`{ $.level = }`, `{ $.level = "x" `, `{ level = "x" }`, `{ $.level > "x" }`, `"unclosed`, `%unclosed`, `%(%`, `[a, b]`, `{ ($.a = 1 }`} {
		if _, err := ParsePattern(bad); err == nil {
			t.Errorf("ParsePattern(%q) accepted", bad)
		}
	}
}

func TestEventToken(t *testing.T) {
	for _, pos := range []uint64{0, 1, 1<<16 | 3, 1<<63 + 5} {
		for _, dir := range []byte{'f', 'b'} {
			tok := eventToken(dir, pos)
			if len(tok) != 60 {
				t.Errorf("token %q is not 60 characters", tok)
			}
			d, p, err := parseEventToken(tok)
			if err != nil || d != dir || p != pos {
				t.Errorf("parseEventToken(%q) = %c %d %v", tok, d, p, err)
			}
		}
	}
	for _, bad := range []string{"", "invalid-token", "f/1/s", "x/" + string(make([]byte, 56)) + "/s", "f/99999999999999999999999999999999999999999999999999999999/s"} {
		if _, _, err := parseEventToken(bad); err == nil {
			t.Errorf("parseEventToken(%q) accepted", bad)
		}
	}
}
