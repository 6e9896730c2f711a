package main

import (
	"bytes"
	"encoding/binary"
	"slices"
	"strings"
)

// keysScenario creates a document whose property key is a 300-byte
// binary, longer than any atom, then reads the type's collection three
// times from another connection, and once over REST.
func keysScenario(s *server, _ options) ([]figure, error) {
	before, err := s.resetPeak()
	if err != nil {
		return nil, err
	}
	key := binary.BigEndian.AppendUint32([]byte{109}, 300)
	key = append(key, bytes.Repeat([]byte("k"), 300)...)
	a, err := s.dial()
	if err != nil {
		return nil, err
	}
	defer a.Close()
	_, created, err := call(a, request("create", "keyed", pair(key, []byte{97, 1})))
	if err != nil {
		return nil, err
	}
	b, err := s.dial()
	if err != nil {
		return nil, err
	}
	defer b.Close()
	var reads []string
	ok := 0
	for range 3 {
		_, h, err := call(b, request("read", "keyed", []byte{106}))
		if err != nil {
			return nil, err
		}
		if h == "ok" {
			ok++
		}
		if !slices.Contains(reads, h) {
			reads = append(reads, h)
		}
	}
	// REST answers in JSON, where such a key can be written: whether the
	// create committed.
	status, body := get(s.addr, "/api/keyed", s.addr)
	return []figure{
		s.growth("a create with a 300-byte key, then 3 collection reads", before, "create: "+created),
		{label: "collection reads by another client answered ok", value: float64(ok), unit: "of 3", answer: strings.Join(reads, "; ")},
		{label: "REST GET /api/keyed", value: float64(status), unit: "HTTP status", answer: truncate(body, 40)},
	}, nil
}
