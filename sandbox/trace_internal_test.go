package sandbox

import (
	"fmt"
	"regexp"
	"testing"
	"time"
)

func TestTraceID(t *testing.T) {
	re := regexp.MustCompile(`^Root=1-[0-9a-f]{8}-[0-9a-f]{24};Sampled=0$`)
	for _, sec := range []int64{0, 1, 0x1f, 1700000000, 0xffffffff} {
		id := traceID(time.Unix(sec, 0))
		if !re.MatchString(id) || id[7:15] != fmt.Sprintf("%08x", sec) {
			t.Errorf("traceID(%d) = %q", sec, id)
		}
	}
	for _, tc := range []struct {
		v      uint64
		digits int
		want   string
	}{{0, 8, "00000000"}, {0x1f, 8, "0000001f"}, {0xdeadbeef, 8, "deadbeef"}, {1, 16, "0000000000000001"}, {^uint64(0), 16, "ffffffffffffffff"}} {
		if got := string(appendHex(nil, tc.v, tc.digits)); got != tc.want {
			t.Errorf("appendHex(%#x, %d) = %q; want %q", tc.v, tc.digits, got, tc.want)
		}
	}
}
