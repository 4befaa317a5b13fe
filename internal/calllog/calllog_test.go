package calllog

import (
	"sync"
	"testing"
)

func TestLogRecordsCountsAndCopies(t *testing.T) {
	var l Log[string]
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if i%2 == 0 {
				l.Add("GET")
			} else {
				l.Add("POST")
			}
		}(i)
	}
	wg.Wait()
	all := l.All()
	if len(all) != 50 || l.Count(func(c string) bool { return c == "POST" }) != 25 {
		t.Fatalf("%d calls, %d POST", len(all), l.Count(func(c string) bool { return c == "POST" }))
	}
	all[0] = "changed"
	if l.All()[0] == "changed" {
		t.Fatal("All is not a copy")
	}
	l.Reset()
	if len(l.All()) != 0 {
		t.Fatal("Reset kept calls")
	}
}

func TestKeepBoundsTheLog(t *testing.T) {
	var l Log[int]
	l.Keep(3)
	for i := 1; i <= 5; i++ {
		l.Add(i)
	}
	if got := l.All(); len(got) != 3 || got[0] != 3 || got[2] != 5 {
		t.Fatalf("kept %v, want [3 4 5]", got)
	}
}
