package sqlite

import (
	"context"
	"testing"
	"time"
)

// BenchmarkTakeRequest is the store's share of every request: one rate-limit transaction.
func BenchmarkTakeRequest(b *testing.B) {
	db, err := Open(context.Background(), b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	for b.Loop() {
		if _, err := db.TakeRequest(context.Background(), "k", "write", 600, time.Minute); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAPIKey is the key lookup of every request.
func BenchmarkAPIKey(b *testing.B) {
	db, err := Open(context.Background(), b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	for b.Loop() {
		db.APIKey(context.Background(), "0123456789abcdef")
	}
}
