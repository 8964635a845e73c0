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
}
