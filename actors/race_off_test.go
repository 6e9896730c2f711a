//go:build !race

package actors

// allocScale multiplies the allocation bounds of the tests (see
// race_on_test.go).
const allocScale = 1
