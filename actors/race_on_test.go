//go:build race

package actors

// allocScale multiplies the allocation bounds of the tests: under the
// race detector the codec's decoding allocates about twice what it does
// in a normal build.
const allocScale = 2
