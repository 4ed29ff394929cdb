package app

import (
	"net/url"
	"strconv"
)

func init() {
	beds := 100
	nextBeds := func() string { beds++; return strconv.Itoa(beds) }
	parityCases = append(parityCases, parityCase{
		Name: "org.update by the member's admin", Rule: "org.update", As: "hospital_admin",
		Web: func(w *parityWorld, _ string) string {
			w.Form("/org", "/org", url.Values{"name": {"同一記録病院"}, "kind": {"hospital"}, "prefecture": {"東京都"},
				"beds": {nextBeds()}, "mfa_policy": {"admins"}})
			return w.Hospital
		},
		API: func(w *parityWorld, _ string) string {
			n, _ := strconv.Atoi(nextBeds())
			w.Call("PATCH", "/api/v1/orgs/"+w.Hospital, map[string]any{"beds": n}, nil)
			return w.Hospital
		},
	})
}
