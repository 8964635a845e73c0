package codecache_test

import (
	"fmt"
	"testing"

	"github.com/lambada-dev/lambada/inmem"
	"github.com/lambada-dev/lambada/internal/storetest"
)

// BenchmarkUnpack measures how long a deployment package of many small
// files takes to be ready: stored, then unpacked by Path.
//
//	go test ./codecache -run '^$' -bench Unpack -benchtime 1x
func BenchmarkUnpack(b *testing.B) {
	for _, files := range []int{20000, 200000} {
		b.Run(fmt.Sprint(files, " files"), func(b *testing.B) {
			entries := make([]entry, 0, files)
			for i := range files {
				entries = append(entries, File(fmt.Sprintf("data/%03d/%06d.txt", i/1000, i), fmt.Sprint(i), 0o644))
			}
			zip := Zip(b, entries...)
			key := storetest.Key(zip)
			for b.Loop() {
				b.StopTimer()
				store := &inmem.Store{}
				if err := store.PutCode(b.Context(), key, zip); err != nil {
					b.Fatal(err)
				}
				c := MustCache(b, store)
				b.StartTimer()
				MustPath(b, c, key)
			}
		})
	}
}
