package bot_test

import (
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/nexo-org/nexo-bot/bot"
	"github.com/nexo-org/nexo-bot/bot/slackfake"
)

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted)-1) * p)
	return sorted[i]
}

// BenchmarkAckLatency sends bursts of ackBurst slash commands through the
// real Socket Mode path (fake Slack → WebSocket → slack-go → Bot → ack),
// one burst per iteration, and reports the envelope-to-ack latency seen by
// the fake over all bursts.
func BenchmarkAckLatency(b *testing.B) {
	const ackBurst = 100
	hs := start(b, slackfake.Options{}, func(o *bot.Options) { o.Workers = 16 })
	lat := make([]time.Duration, 0, b.N*ackBurst)
	envs := make([]string, 0, ackBurst)
	b.ResetTimer()
	for range b.N {
		envs = envs[:0]
		for range ackBurst {
			envs = append(envs, hs.fake.SendSlashCommand("U1", "C1", "noop"))
		}
		for _, e := range envs {
			ack, err := hs.fake.WaitAck(e, 30*time.Second)
			if err != nil {
				b.Fatal(err)
			}
			lat = append(lat, ack.Latency)
		}
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(percentile(lat, 0.50).Microseconds()), "ack-p50-µs")
	b.ReportMetric(float64(percentile(lat, 0.99).Microseconds()), "ack-p99-µs")
}

// BenchmarkCommandToFirstPost measures from the slash command leaving the
// fake to the reply's chat.postMessage arriving at it (each iteration in a
// fresh channel, so channel pacing does not add up).
func BenchmarkCommandToFirstPost(b *testing.B) {
	hs := start(b, slackfake.Options{}, nil)
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		ch := fmt.Sprintf("CB%d", i)
		sent := time.Now()
		hs.fake.SendSlashCommand("U1", ch, "echo bench")
		var first time.Time
		ok := hs.fake.WaitFor(func() bool {
			ms := hs.fake.Messages(ch)
			if len(ms) == 0 {
				return false
			}
			first = ms[0].Updates[0].Time
			return true
		}, 10*time.Second)
		if !ok {
			b.Fatal("no reply")
		}
		lat = append(lat, first.Sub(sent))
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(percentile(lat, 0.50).Microseconds()), "post-p50-µs")
	b.ReportMetric(float64(percentile(lat, 0.99).Microseconds()), "post-p99-µs")
}
