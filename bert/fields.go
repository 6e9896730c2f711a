package bert

import (
	"reflect"
	"slices"
	"sync"
)

// field is one struct field as Marshal and Unmarshal see it.
type field struct {
	name      string
	tagged    bool  // the name came from a tag
	index     []int // path through embedded structs
	typ       reflect.Type
	omitEmpty bool
	omitZero  bool

	// The key atom, pre-encoded for each profile. keyErr is set when the
	// name cannot be an ATOM_EXT (BERTJS) atom.
	keyErlang []byte
	keyBERTJS []byte
	keyErr    error
}

// structFields is the cached field list of one struct type.
type structFields struct {
	list   []field
	byName map[string]int // index into list
}

var fieldCache sync.Map // map[reflect.Type]*structFields

// cachedTypeFields is typeFields behind a cache.
func cachedTypeFields(t reflect.Type) *structFields {
	if f, ok := fieldCache.Load(t); ok {
		return f.(*structFields)
	}
	f, _ := fieldCache.LoadOrStore(t, typeFields(t))
	return f.(*structFields)
}

// typeFields returns the fields of struct type t, with the fields of
// untagged embedded structs promoted as Go promotes them: a shallower
// field hides deeper ones, a tagged field wins among equals, and
// remaining ties hide each other.
func typeFields(t reflect.Type) *structFields {
	type level struct {
		typ   reflect.Type
		index []int
	}
	var current []level
	next := []level{{typ: t}}
	var count, nextCount map[reflect.Type]int
	visited := map[reflect.Type]bool{}
	var fields []field

	for len(next) > 0 {
		current, next = next, current[:0]
		count, nextCount = nextCount, map[reflect.Type]int{}
		for _, f := range current {
			if visited[f.typ] {
				continue
			}
			visited[f.typ] = true
			for i := 0; i < f.typ.NumField(); i++ {
				sf := f.typ.Field(i)
				if sf.Anonymous {
					ft := sf.Type
					if ft.Kind() == reflect.Pointer {
						ft = ft.Elem()
					}
					if !sf.IsExported() && ft.Kind() != reflect.Struct {
						continue
					}
				} else if !sf.IsExported() {
					continue
				}
				tag := sf.Tag.Get("bert")
				if tag == "-" {
					continue
				}
				name, opts := parseTag(tag)
				index := make([]int, len(f.index)+1)
				copy(index, f.index)
				index[len(f.index)] = i

				ft := sf.Type
				if ft.Name() == "" && ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				if name != "" || !sf.Anonymous || ft.Kind() != reflect.Struct || isSpecialStruct(ft) {
					tagged := name != ""
					if name == "" {
						name = sf.Name
					}
					fld := field{
						name:      name,
						tagged:    tagged,
						index:     index,
						typ:       sf.Type,
						omitEmpty: opts.Contains("omitempty"),
						omitZero:  opts.Contains("omitzero"),
					}
					fld.keyErlang, _ = appendAtom(nil, name, Erlang)
					fld.keyBERTJS, fld.keyErr = appendAtom(nil, name, BERTJS)
					fields = append(fields, fld)
					if count[f.typ] > 1 {
						// The same struct embedded twice at this depth:
						// add a duplicate so that the tie hides both.
						fields = append(fields, fields[len(fields)-1])
					}
					continue
				}
				nextCount[ft]++
				if nextCount[ft] == 1 {
					next = append(next, level{typ: ft, index: index})
				}
			}
		}
	}

	slices.SortStableFunc(fields, func(a, b field) int {
		if a.name != b.name {
			if a.name < b.name {
				return -1
			}
			return 1
		}
		if len(a.index) != len(b.index) {
			return len(a.index) - len(b.index)
		}
		if a.tagged != b.tagged {
			if a.tagged {
				return -1
			}
			return 1
		}
		return slices.Compare(a.index, b.index)
	})
	out := fields[:0]
	for i := 0; i < len(fields); {
		j := i + 1
		for j < len(fields) && fields[j].name == fields[i].name {
			j++
		}
		group := fields[i:j]
		if len(group) == 1 || len(group[0].index) != len(group[1].index) || group[0].tagged != group[1].tagged {
			out = append(out, group[0])
		}
		i = j
	}
	fields = out
	slices.SortFunc(fields, func(a, b field) int { return slices.Compare(a.index, b.index) })

	sf := &structFields{list: fields, byName: make(map[string]int, len(fields))}
	for i, f := range fields {
		sf.byName[f.name] = i
	}
	return sf
}

// isSpecialStruct reports struct types that encode as one term, not as
// a proplist, and so are never flattened when embedded.
func isSpecialStruct(t reflect.Type) bool {
	switch t {
	case timeType, bigIntType, improperListType, bitBinaryType, regexType, pairType:
		return true
	}
	return false
}
