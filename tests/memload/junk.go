package main

import (
	"fmt"
	"strings"
)

// junkScenario reads o.types type names that do not exist, each once,
// then creates a document of a new type.
func junkScenario(s *server, o options) ([]figure, error) {
	before, err := s.resetPeak()
	if err != nil {
		return nil, err
	}
	answers := map[string]int{}
	examples := map[string]string{}
	// 100 reads a connection: within the new server's burst of 200, so
	// that its rate limit does not answer in the server's place.
	const perConn = 100
	for first := 0; first < o.types; first += perConn {
		c, err := s.dial()
		if err != nil {
			return nil, err
		}
		for i := first; i < min(first+perConn, o.types); i++ {
			_, h, err := call(c, request("read", fmt.Sprintf("junk%05d", i), []byte{106}))
			if err != nil {
				c.Close()
				return nil, fmt.Errorf("read %d: %w", i, err)
			}
			code, _, _ := strings.Cut(h, ":")
			if answers[code] == 0 {
				examples[code] = fmt.Sprintf("first at read %d: %s", i+1, h)
			}
			answers[code]++
		}
		c.Close()
	}
	var tally []string
	for _, k := range sortedKeys(answers) {
		tally = append(tally, fmt.Sprintf("%s %d, %s", k, answers[k], examples[k]))
	}
	figs := []figure{s.growth(fmt.Sprintf("%d reads of distinct junk type names", o.types), before, strings.Join(tally, "; "))}
	c, err := s.dial()
	if err != nil {
		return figs, err
	}
	defer c.Close()
	_, h, err := call(c, request("create", "realtype", prop("name", binaryOf(4))))
	if err != nil {
		return figs, err
	}
	return append(figs, figure{label: "then a create into a new type succeeded", value: b2f(h == "ok"), unit: "(1 = yes)", answer: h}), nil
}
