package postgres

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// BenchmarkTakeRequest is the store's share of every request: one rate-limit take, over 64
// keys at their limit (so each take also expires one event), from parallel goroutines.
func BenchmarkTakeRequest(b *testing.B) {
	db := open(b, pg.Database(b), time.Now)
	b.RunParallel(func(p *testing.PB) {
		for i := 0; p.Next(); i++ {
			if _, err := db.TakeRequest(context.Background(), fmt.Sprint("k", i%64), "write", 50, 50*time.Millisecond); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkAPIKey is the key lookup of every request.
func BenchmarkAPIKey(b *testing.B) {
	db := open(b, pg.Database(b), time.Now)
	for b.Loop() {
		db.APIKey(context.Background(), "0123456789abcdef")
	}
}
