package main

import (
	"encoding/binary"
	"io"
	"net/http"
	"time"
)

// bignumScenario costs a 1 MB bignum as an id and as a stored value in
// CPU, against 100 ordinary reads.
func bignumScenario(s *server, _ options) ([]figure, error) {
	c, err := s.dial()
	if err != nil {
		return nil, err
	}
	defer c.Close()
	cpu0 := s.cpu()
	for range 100 {
		if _, _, err := call(c, request("read", "small", prop("id", binaryOf(4)))); err != nil {
			return nil, err
		}
	}
	base := s.cpu() - cpu0
	figs := []figure{{label: "100 ordinary reads", value: float64(base.Microseconds()), unit: "µs CPU"}}
	cpu0 = s.cpu()
	_, h, err := call(c, request("read", "n", prop("id", bignumOf(1_000_000))))
	if err != nil {
		return figs, err
	}
	figs = append(figs, cpuFigure("a read whose id is a 1 MB bignum", s.cpu()-cpu0, base, h))
	doc := binary.BigEndian.AppendUint32([]byte{108}, 2)
	doc = append(doc, 104, 2)
	doc = append(doc, atom("id")...)
	doc = append(doc, 109, 0, 0, 0, 1, 'b')
	doc = append(doc, 104, 2)
	doc = append(doc, atom("n")...)
	doc = append(doc, bignumOf(1_000_000)...)
	doc = append(doc, 106)
	cpu0 = s.cpu()
	_, h, err = call(c, request("create", "n", doc))
	if err != nil {
		return figs, err
	}
	figs = append(figs, cpuFigure("a create holding a 1 MB bignum", s.cpu()-cpu0, base, h))
	cpu0 = s.cpu()
	status := ""
	for range 5 {
		resp, err := http.Get("http://" + s.addr + "/api/n/b")
		if err != nil {
			return figs, err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		status = resp.Status
	}
	return append(figs, cpuFigure("5 REST reads of it", s.cpu()-cpu0, base, "status "+status)), nil
}

// cpuFigure is used as a ratio to base.
func cpuFigure(label string, used, base time.Duration, answer string) figure {
	return figure{
		label:  label,
		value:  float64(used) / float64(max(base, 1)),
		unit:   "x the CPU of 100 reads",
		answer: truncate(answer, 80),
	}
}
