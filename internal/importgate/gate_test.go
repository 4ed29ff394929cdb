package importgate

import (
	"errors"
	"net/http"
	"sync"
	"testing"

	"github.com/medisac/medisac/internal/apperr"
)

func TestGate(t *testing.T) {
	g := &Gate{PerOrg: 1, Node: 2}
	relA, err := g.Acquire("a")
	if err != nil {
		t.Fatal(err)
	}
	_, err = g.Acquire("a")
	var ae *apperr.Error
	if !errors.As(err, &ae) || ae.Key != "inventory.import.busy" || apperr.Status(ae.Code) != http.StatusTooManyRequests {
		t.Fatalf("second import of one organisation: %v", err)
	}
	relB, err := g.Acquire("b")
	if err != nil {
		t.Fatalf("another organisation: %v", err)
	}
	if _, err = g.Acquire("c"); !errors.As(err, &ae) || ae.Key != "inventory.import.node_busy" {
		t.Fatalf("third import on the node: %v", err)
	}
	relA()
	relA() // a second call gives back nothing more
	if g.Running("a") != 0 || g.total != 1 {
		t.Fatalf("after release: a=%d total=%d", g.Running("a"), g.total)
	}
	relC, err := g.Acquire("c")
	if err != nil {
		t.Fatal(err)
	}
	relB()
	relC()
	if g.total != 0 || len(g.running) != 0 {
		t.Fatalf("left %d %v", g.total, g.running)
	}
}

// TestGateRace starts many imports of one organisation at once: exactly
// one gets a place.
func TestGateRace(t *testing.T) {
	g := &Gate{PerOrg: 1, Node: 4}
	var mu sync.Mutex
	var wg sync.WaitGroup
	got := 0
	start := make(chan struct{})
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			if _, err := g.Acquire("org"); err == nil {
				mu.Lock()
				got++
				mu.Unlock()
			}
		}()
	}
	close(start)
	wg.Wait()
	if got != 1 {
		t.Fatalf("%d imports of one organisation ran at once", got)
	}
}
