package e2e

import (
	"os"
	"testing"

	"github.com/gatehouse/gatehouse/internal/apptest"
)

// TestMain removes the gatehouse binary that process tests build.
func TestMain(m *testing.M) {
	code := m.Run()
	apptest.RemoveBinary()
	os.Exit(code)
}
