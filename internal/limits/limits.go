// Package limits holds the one rule that every limit of bertsync's
// config structs follows (actors.Config, gateway.Config,
// gateway.ServeConfig, bert.Limits, models' documents), so that it is
// written down once:
//
//   - zero means the field's documented default;
//   - a negative value means no limit;
//   - a positive value is the limit.
//
// A resolved limit keeps its sign, so resolving twice changes nothing and
// a resolved config can be passed on as it is. docs/limits.md lists every
// limit with its default and its flag.
package limits

// Value is the type of a limit: a count, a size or a duration
// (time.Duration is an int64).
type Value interface {
	~int | ~int64
}

// Resolve returns def for the zero value and v otherwise.
func Resolve[T Value](v, def T) T {
	if v == 0 {
		return def
	}
	return v
}

// Set reports whether a resolved limit bounds anything (it is positive).
func Set[T Value](limit T) bool { return limit > 0 }

// Exceeds reports whether n passes the resolved limit; with no limit
// nothing does.
func Exceeds[T Value](n, limit T) bool { return limit > 0 && n > limit }
