package testkit

import (
	"fmt"
	"strings"
)

// Survey is the YAML of a survey edition with id, title and fiscal year fy
// and one section whose first question asks whether there is an offline
// backup (yes or no); each of extra (an item as a YAML flow map) follows
// it.
func Survey(id, title string, fy int, extra ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "id: %s\nkind: survey\ntitle: %s\nfiscal_year: %d\nsections:\n  - id: s\n    title: S\n    items:\n", id, title, fy)
	for _, item := range append([]string{"{id: offline, text: オフラインのバックアップがある, type: yesno}"}, extra...) {
		fmt.Fprintf(&b, "      - %s\n", item)
	}
	return b.String()
}
