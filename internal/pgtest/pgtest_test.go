package pgtest

import (
	"context"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
)

// The server starts as an unprivileged user, answers on its socket and over TCP, and its
// folder is gone once it stopped.
func TestStartStop(t *testing.T) {
	s, err := Start(Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	u := s.Database(t)
	for _, url := range []string{u, s.TCPURL("postgres")} {
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			s.Stop()
			t.Fatal(err)
		}
		var v string
		if err := conn.QueryRow(ctx, "SHOW server_version").Scan(&v); err != nil {
			t.Error(err)
		}
		conn.Close(ctx)
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(s.Dir); !os.IsNotExist(err) {
		t.Fatalf("%s survives the server: %v", s.Dir, err)
	}
}
