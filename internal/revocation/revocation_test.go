package revocation

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

func TestAddHasSweep(t *testing.T) {
	var l List
	if l.Has(Token, "a") {
		t.Fatal("the empty list has an entry")
	}
	l.Add(Token, "a", t0.Add(time.Minute))
	l.Add(Family, "rf_1", t0.Add(time.Hour))
	if !l.Has(Token, "a") || !l.Has(Family, "rf_1") {
		t.Fatal("added entries are missing")
	}
	// Kinds are apart: a family id is not a jti.
	if l.Has(Family, "a") || l.Has(Token, "rf_1") {
		t.Fatal("an entry of one kind answers for another")
	}
	if l.Has(Token, "") {
		t.Fatal("the empty id is on the list")
	}
	l.Add(Token, "a", t0) // an earlier until does not shorten the entry
	if l.Len() != 2 {
		t.Fatalf("Len = %d; want 2", l.Len())
	}
	if n := l.Sweep(t0.Add(30 * time.Second)); n != 0 {
		t.Fatalf("Sweep dropped %d live entries", n)
	}
	if n := l.Sweep(t0.Add(2 * time.Minute)); n != 1 || l.Has(Token, "a") || !l.Has(Family, "rf_1") {
		t.Fatalf("Sweep dropped %d; want only the expired jti", n)
	}
	if l.Len() != 1 {
		t.Fatalf("Len = %d after the sweep; want 1", l.Len())
	}
}

func TestStoreSpelling(t *testing.T) {
	for _, c := range []struct {
		kind Kind
		id   string
	}{{Token, "AbC-_x"}, {Family, "rf_123"}, {Token, "fam:odd"}} {
		k, id, ok := Parse(ID(c.kind, c.id))
		if !ok || k != c.kind || id != c.id {
			t.Errorf("Parse(ID(%d, %q)) = %d, %q, %v", c.kind, c.id, k, id, ok)
		}
	}
	for _, bad := range []string{"", "jti:", "bare-jti", "user:x", "JTI:x"} {
		if _, _, ok := Parse(bad); ok {
			t.Errorf("Parse(%q) is ok", bad)
		}
	}
	var l List
	if l.AddID("nonsense", t0) || l.Len() != 0 {
		t.Fatal("AddID took an id of no kind")
	}
	if !l.AddID("fam:rf_9", t0) || !l.Has(Family, "rf_9") {
		t.Fatal("AddID lost a family")
	}
}

func TestConcurrentAddAndHas(t *testing.T) {
	var l List
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := range 5000 {
				l.Add(Token, fmt.Sprint(w, "-", i), t0.Add(time.Hour))
			}
		}()
		go func() {
			defer wg.Done()
			for i := range 5000 {
				l.Has(Token, fmt.Sprint(w, "-", i))
			}
		}()
	}
	wg.Wait()
	if l.Len() != 20000 {
		t.Fatalf("Len = %d; want 20000", l.Len())
	}
	for w := range 4 {
		for i := range 5000 {
			if !l.Has(Token, fmt.Sprint(w, "-", i)) {
				t.Fatalf("entry %d-%d lost", w, i)
			}
		}
	}
}
