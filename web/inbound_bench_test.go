package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
)

// benchPush posts body as the shop and fails unless the answer is want.
func (e *inboundEnv) benchPush(b *testing.B, c *http.Client, body []byte, want int) {
	req, err := http.NewRequest("POST", e.srv.URL+"/api/v1/inbound/sales_orders", bytes.NewReader(body))
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-WMS-Token", e.push)
	resp, err := c.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	out, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != want {
		b.Fatalf("push: %d %s", resp.StatusCode, out)
	}
}

// BenchmarkInboundPushBatch pushes batches of 1,000 new foreign-shaped
// orders (two lines each) over loopback HTTP: token check, parsing,
// mapping, one store transaction per batch with an event per order. The
// target is 20,000 documents/s on a 2-core machine.
func BenchmarkInboundPushBatch(b *testing.B) {
	e := newInboundEnv(b)
	c := &http.Client{}
	var n int
	batch := func() []byte {
		docs := make([]any, maxPushDocs)
		for i := range docs {
			n++
			d := shopOrder(fmt.Sprint(n), fmt.Sprint(n), "widget-1", "2")
			d["items"] = append(d["items"].([]any), map[string]any{"code": "gadget-9", "count": "1"})
			docs[i] = d
		}
		j, _ := json.Marshal(docs)
		return j
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		body := batch()
		b.StartTimer()
		e.benchPush(b, c, body, 200)
	}
	b.ReportMetric(float64(b.N*maxPushDocs)/b.Elapsed().Seconds(), "docs/s")
}

// BenchmarkInboundPushSingle pushes one new order per request from
// concurrent clients (the store's group commit shares their
// transactions). The target is 3,000 pushes/s.
func BenchmarkInboundPushSingle(b *testing.B) {
	e := newInboundEnv(b)
	var n atomic.Int64
	b.SetParallelism(8)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
		for pb.Next() {
			id := fmt.Sprint(n.Add(1))
			body, _ := json.Marshal(shopOrder(id, id, "widget-1", "2"))
			e.benchPush(b, c, body, 201)
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pushes/s")
}
