// Package importgate bounds how many file imports run at once: at most
// PerOrg per organisation and Node on the whole node. An import that
// would go past either is refused at once with a RateLimited error (HTTP
// 429), never queued, so that parallel uploads cannot pile up memory.
package importgate

import (
	"sync"

	"github.com/medisac/medisac/internal/apperr"
)

// Gate counts the imports running in this process.
type Gate struct {
	// PerOrg is the most imports of one organisation at once (default 1).
	PerOrg int
	// Node is the most imports of all organisations at once (default 2).
	Node int

	mu      sync.Mutex
	running map[string]int
	total   int
}

// New returns a node's gate: one import per organisation and two in all
// at a time. A node builds one and hands it to its web pages and its API,
// so the limits hold across both doors.
func New() *Gate { return &Gate{PerOrg: 1, Node: 2} }

// Acquire takes a place for one import of org (an organisation id, or a
// fixed name such as "vuln" for imports that belong to no organisation)
// and returns the function that gives it back. When org already has
// PerOrg imports running it returns an error with key
// "inventory.import.busy"; when the node has Node imports running, one
// with key "inventory.import.node_busy". Both are apperr.RateLimited.
func (g *Gate) Acquire(org string) (release func(), err error) {
	perOrg, node := g.PerOrg, g.Node
	if perOrg <= 0 {
		perOrg = 1
	}
	if node <= 0 {
		node = 2
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.running == nil {
		g.running = map[string]int{}
	}
	if g.running[org] >= perOrg {
		return nil, apperr.New(apperr.RateLimited, "inventory.import.busy")
	}
	if g.total >= node {
		return nil, apperr.New(apperr.RateLimited, "inventory.import.node_busy")
	}
	g.running[org]++
	g.total++
	var once sync.Once
	return func() {
		once.Do(func() {
			g.mu.Lock()
			defer g.mu.Unlock()
			g.total--
			if g.running[org]--; g.running[org] <= 0 {
				delete(g.running, org)
			}
		})
	}, nil
}

// Running returns the number of imports running for org.
func (g *Gate) Running(org string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.running[org]
}
