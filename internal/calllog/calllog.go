// Package calllog is the one record of the requests a test double
// answered: every fake (Slack, GitHub, Argo CD, the registry, the secret
// store) keeps its calls in a Log and answers Calls and its counts from it,
// so tests ask each of them the same way.
package calllog

import (
	"slices"
	"sync"
)

// Log is a list of calls safe for concurrent use. The zero value is ready
// and keeps every call; Keep bounds it for long-running doubles (the
// sandbox's).
type Log[C any] struct {
	mu    sync.Mutex
	calls []C
	keep  int
}

// Keep makes the log remember only the last n calls (0: all).
func (l *Log[C]) Keep(n int) {
	l.mu.Lock()
	l.keep = n
	l.trim()
	l.mu.Unlock()
}

// Add records a call.
func (l *Log[C]) Add(c C) {
	l.mu.Lock()
	l.calls = append(l.calls, c)
	l.trim()
	l.mu.Unlock()
}

// trim drops the oldest calls once twice too many are kept, so a bounded
// log copies rarely; All and Count see the last keep only.
func (l *Log[C]) trim() {
	if l.keep > 0 && len(l.calls) > 2*l.keep {
		l.calls = slices.Clone(l.calls[len(l.calls)-l.keep:])
	}
}

// kept is the calls All and Count see.
func (l *Log[C]) kept() []C {
	if l.keep > 0 && len(l.calls) > l.keep {
		return l.calls[len(l.calls)-l.keep:]
	}
	return l.calls
}

// All is a copy of the calls, oldest first.
func (l *Log[C]) All() []C {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.kept())
}

// Count is how many calls match.
func (l *Log[C]) Count(match func(C) bool) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, c := range l.kept() {
		if match(c) {
			n++
		}
	}
	return n
}

// Reset forgets every call.
func (l *Log[C]) Reset() {
	l.mu.Lock()
	l.calls = nil
	l.mu.Unlock()
}
