package limits

import (
	"testing"
	"time"
)

func TestResolve(t *testing.T) {
	for _, tt := range []struct{ v, def, want int }{
		{0, 10, 10},
		{5, 10, 5},
		{-1, 10, -1},
		{-7, 10, -7},
	} {
		if got := Resolve(tt.v, tt.def); got != tt.want {
			t.Errorf("Resolve(%d, %d) = %d, want %d", tt.v, tt.def, got, tt.want)
		}
		// Resolving twice changes nothing.
		if got := Resolve(Resolve(tt.v, tt.def), tt.def); got != tt.want {
			t.Errorf("Resolve twice (%d, %d) = %d, want %d", tt.v, tt.def, got, tt.want)
		}
	}
	if got := Resolve(time.Duration(0), time.Second); got != time.Second {
		t.Errorf("Resolve duration = %v", got)
	}
}

func TestExceedsAndSet(t *testing.T) {
	for _, tt := range []struct {
		n, limit int
		exceeds  bool
		set      bool
	}{
		{10, 5, true, true},
		{5, 5, false, true},
		{1 << 40, -1, false, false},
		{3, 0, false, false},
	} {
		if got := Exceeds(tt.n, tt.limit); got != tt.exceeds {
			t.Errorf("Exceeds(%d, %d) = %v", tt.n, tt.limit, got)
		}
		if got := Set(tt.limit); got != tt.set {
			t.Errorf("Set(%d) = %v", tt.limit, got)
		}
	}
}
