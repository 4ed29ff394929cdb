package cpe

import (
	"slices"
	"strings"
)

// Relation is the set relation between a source and a target attribute
// value or name, as NISTIR 7696 defines it.
type Relation uint8

// The relations of NISTIR 7696 §6.1.
const (
	Disjoint Relation = iota
	Subset
	Superset
	Equal
	Undefined
)

var relNames = [...]string{"DISJOINT", "SUBSET", "SUPERSET", "EQUAL", "UNDEFINED"}

// String returns the relation's name in capitals, as the specification writes it.
func (r Relation) String() string {
	if int(r) < len(relNames) {
		return relNames[r]
	}
	return "UNKNOWN"
}

// CompareValues returns the relation of source to target for one
// attribute (NISTIR 7696 Table 6-2). A target holding wildcards is
// UNDEFINED.
func CompareValues(source, target Value) Relation {
	if target.Kind == Str && target.HasWildcards() {
		return Undefined
	}
	if source.Kind == target.Kind && source.V == target.V {
		return Equal
	}
	if source.Kind == Any {
		return Superset
	}
	if target.Kind == Any {
		return Subset
	}
	if target.Kind == NA || source.Kind == NA {
		return Disjoint
	}
	return compareStrings(source.V, target.V)
}

// compareStrings is compare_strings of NISTIR 7696: source may hold
// wildcards at its ends, target is a literal; both are WFN-quoted.
func compareStrings(source, target string) Relation {
	start, end := 0, len(source)
	begins, ends := 0, 0
	if strings.HasPrefix(source, "*") {
		start = 1
		begins = -1
	} else {
		for start < len(source) && source[start] == '?' {
			start++
			begins++
		}
	}
	if end > start && source[end-1] == '*' && !escapedAt(source, end-1) {
		end--
		ends = -1
	} else {
		for end > start && source[end-1] == '?' && !escapedAt(source, end-1) {
			end--
			ends++
		}
	}
	src := source[start:end]
	if begins == 0 && ends == 0 {
		if src == target {
			return Superset
		}
		return Disjoint
	}
	index := -1
	leftover := len(target)
	for leftover > 0 {
		next := strings.Index(target[index+1:], src)
		if next < 0 {
			break
		}
		index += 1 + next
		if index > 0 && escapedAt(target, index) {
			continue
		}
		escapes := countEscapes(target[:index])
		if index > 0 && begins != -1 && begins < index-escapes {
			break
		}
		escapes = countEscapes(target[index+len(src):])
		leftover = len(target) - index - escapes - len(src)
		if leftover > 0 && ends != -1 && leftover > ends {
			continue
		}
		return Superset
	}
	return Disjoint
}

func countEscapes(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' {
			n++
			i++
		}
	}
	return n
}

// Compare returns the attribute-wise relations of source to target.
func Compare(source, target Name) [NumAttributes]Relation {
	var r [NumAttributes]Relation
	for i := range source {
		r[i] = CompareValues(source[i], target[i])
	}
	return r
}

// IsDisjoint reports whether some attribute of source and target is DISJOINT.
func IsDisjoint(source, target Name) bool {
	for i := range source {
		if CompareValues(source[i], target[i]) == Disjoint {
			return true
		}
	}
	return false
}

// IsEqual reports whether every attribute of source and target is EQUAL.
func IsEqual(source, target Name) bool { return every(source, target, Equal) }

// IsSuperset reports whether every attribute of source is a SUPERSET of or
// EQUAL to target's: the CPE name match of NISTIR 7696 (source is the
// pattern, for example a dictionary entry or NVD criterion; target is the
// name being tested).
func IsSuperset(source, target Name) bool { return every(source, target, Superset, Equal) }

// IsSubset reports whether every attribute of source is a SUBSET of or
// EQUAL to target's.
func IsSubset(source, target Name) bool { return every(source, target, Subset, Equal) }

// every reports whether the relation of every attribute of source to
// target's is one of rs.
func every(source, target Name, rs ...Relation) bool {
	for i := range source {
		if !slices.Contains(rs, CompareValues(source[i], target[i])) {
			return false
		}
	}
	return true
}

// Match is IsSuperset: it reports whether the target name is one of the
// names the source pattern stands for.
func Match(source, target Name) bool { return IsSuperset(source, target) }
