package tlsutil

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadCAPool(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.pem")
	os.WriteFile(empty, []byte("not a certificate"), 0o600)
	if _, err := LoadCAPool(empty); err == nil || !strings.Contains(err.Error(), "no PEM certificates") {
		t.Fatalf("bundle without certificates: %v", err)
	}
	if _, err := LoadCAPool(filepath.Join(dir, "missing.pem")); err == nil || !strings.Contains(err.Error(), "read CA bundle") {
		t.Fatalf("missing bundle: %v", err)
	}
}
