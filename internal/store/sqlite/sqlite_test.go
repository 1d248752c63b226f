package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/sqlite"
	"github.com/gatehouse/gatehouse/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "gatehouse.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

// Reopening a database applies nothing twice and keeps the data.
func TestReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateTenant(context.Background(), &store.Tenant{ID: "t1", Name: "acme"}, store.Event{}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.GetTenant(context.Background(), "acme"); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Migrate(context.Background(), sqlite.Migrations()); err != nil || n != 0 {
		t.Fatalf("second migration applied %d, %v", n, err)
	}
}
