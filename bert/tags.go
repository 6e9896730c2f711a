package bert

import "strings"

// tagOptions is the comma-separated list of options after the name in a
// `bert:"name,opt1,opt2"` struct tag.
type tagOptions string

// parseTag splits a struct field's bert tag into its name and options.
func parseTag(tag string) (string, tagOptions) {
	name, opt, _ := strings.Cut(tag, ",")
	return name, tagOptions(opt)
}

// Contains reports whether the option list contains optionName.
func (o tagOptions) Contains(optionName string) bool {
	s := string(o)
	for s != "" {
		var name string
		name, s, _ = strings.Cut(s, ",")
		if name == optionName {
			return true
		}
	}
	return false
}
