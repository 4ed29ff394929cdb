//go:build race

package inventory

// raceEnabled: the race detector makes each statement several times
// slower, so the long import tests import fewer rows under it.
const raceEnabled = true
