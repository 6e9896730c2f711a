// Package metricstest reads a metrics endpoint the way Prometheus does, for
// the tests of the packages that count: a scrape parsed by the Prometheus
// text parser (which also checks the names are valid), and the value of a
// metric by its labels.
package metricstest
