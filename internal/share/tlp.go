package share

import (
	"slices"
	"strings"

	"github.com/medisac/medisac/internal/apperr"
)

// TLP is a Traffic Light Protocol 2.0 label, stored in lower case with
// AMBER+STRICT written amber_strict.
type TLP string

// The TLP 2.0 labels.
const (
	TLPClear       TLP = "clear"
	TLPGreen       TLP = "green"
	TLPAmber       TLP = "amber"
	TLPAmberStrict TLP = "amber_strict"
	TLPRed         TLP = "red"
)

// TLPs lists the labels from the widest distribution to the narrowest.
var TLPs = []TLP{TLPClear, TLPGreen, TLPAmber, TLPAmberStrict, TLPRed}

// Valid reports whether t is one of the five labels.
func (t TLP) Valid() bool { return slices.Contains(TLPs, t) }

// rank orders labels by how narrowly they may be shared: CLEAR 0 … RED 4.
func (t TLP) rank() int {
	for i, x := range TLPs {
		if t == x {
			return i
		}
	}
	return len(TLPs)
}

// Wider reports whether t allows wider distribution than u.
func (t TLP) Wider(u TLP) bool { return t.rank() < u.rank() }

// Label is the label as FIRST writes it, which is never translated:
// "TLP:AMBER+STRICT".
func (t TLP) Label() string {
	if t == TLPAmberStrict {
		return "TLP:AMBER+STRICT"
	}
	return "TLP:" + strings.ToUpper(string(t))
}

// MeaningKey is the catalog key of the plain-language explanation of what
// the label allows the reader to do.
func (t TLP) MeaningKey() string { return "share.tlp.meaning." + string(t) }

// CSSClass is the class of the label's badge.
func (t TLP) CSSClass() string { return "tlp-" + strings.ReplaceAll(string(t), "_", "-") }

// MarkingID is the STIX 2.1 marking-definition id of the TLP 2.0 label
// (extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d).
func (t TLP) MarkingID() string { return tlpMarkingIDs[t] }

var tlpMarkingIDs = map[TLP]string{
	TLPClear:       "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
	TLPGreen:       "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
	TLPAmber:       "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
	TLPAmberStrict: "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
	TLPRed:         "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
}

// tlp1MarkingIDs are the TLP 1.0 markings predefined by STIX 2.1 core,
// read on import (WHITE is CLEAR in TLP 2.0).
var tlp1MarkingIDs = map[string]TLP{
	"marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9": TLPClear,
	"marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da": TLPGreen,
	"marking-definition--f88d31f6-486f-44da-b317-01333bde0b82": TLPAmber,
	"marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed": TLPRed,
}

// TLPFromMarking maps a STIX marking-definition id (TLP 2.0 or 1.0) to a
// label.
func TLPFromMarking(id string) (TLP, bool) {
	for t, m := range tlpMarkingIDs {
		if m == id {
			return t, true
		}
	}
	t, ok := tlp1MarkingIDs[id]
	return t, ok
}

// ParseTLP reads a label written as "TLP:AMBER+STRICT", "amber+strict",
// "amber_strict", "tlp:white" (TLP 1.0's name for CLEAR) and the like.
func ParseTLP(s string) (TLP, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	s = strings.TrimPrefix(s, "tlp:")
	s = strings.ReplaceAll(strings.ReplaceAll(s, "+", "_"), "-", "_")
	s = strings.ReplaceAll(s, " ", "")
	if s == "white" {
		s = "clear"
	}
	if t := TLP(s); t.Valid() {
		return t, nil
	}
	return "", apperr.Field("tlp", "share.tlp.invalid")
}
