package main

import (
	"fmt"
	"slices"
	"strings"
)

// figure is one measured value of a run and what the server answered
// meanwhile.
type figure struct {
	label  string  // the same in every run of a scenario
	value  float64 // NaN-free; a count, a ratio or a size
	unit   string
	answer string // what the server answered, if anything
	detail string // what differs from run to run, left out of the medians
}

func (f figure) String() string {
	s := fmt.Sprintf("%s: %s %s", f.label, num(f.value), f.unit)
	if f.answer != "" {
		s += " (" + f.answer + ")"
	}
	if f.detail != "" {
		s += " [" + f.detail + "]"
	}
	return s
}

// num prints a count without decimals and a ratio with two, or three
// below 0.1.
func num(v float64) string {
	switch {
	case v == float64(int64(v)):
		return fmt.Sprintf("%d", int64(v))
	case v < 0.1 && v > -0.1:
		return fmt.Sprintf("%.3f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

// result is the figures of one run of one binary.
type result struct {
	bin  string
	figs []figure
}

// summarize prints, per binary and figure, the median over the runs and
// every distinct answer.
func summarize(results []result) {
	var bins []string
	type key struct{ bin, label string }
	values := map[key][]float64{}
	answers := map[key][]string{}
	units := map[string]string{}
	var labels []string
	for _, r := range results {
		if !slices.Contains(bins, r.bin) {
			bins = append(bins, r.bin)
		}
		for _, f := range r.figs {
			if !slices.Contains(labels, f.label) {
				labels = append(labels, f.label)
				units[f.label] = f.unit
			}
			k := key{r.bin, f.label}
			values[k] = append(values[k], f.value)
			if f.answer != "" && !slices.Contains(answers[k], f.answer) {
				answers[k] = append(answers[k], f.answer)
			}
		}
	}
	fmt.Println("medians:")
	for _, bin := range bins {
		fmt.Printf("%s:\n", bin)
		for _, label := range labels {
			k := key{bin, label}
			vs := values[k]
			if len(vs) == 0 {
				continue
			}
			strs := make([]string, len(vs))
			for i, v := range vs {
				strs[i] = num(v)
			}
			fmt.Printf("  %s: median %s %s of [%s]", label, num(median(vs)), units[label], strings.Join(strs, ", "))
			if as := answers[k]; len(as) > 0 {
				fmt.Printf(" (%s)", strings.Join(as, " | "))
			}
			fmt.Println()
		}
	}
}

func median(vs []float64) float64 {
	s := slices.Sorted(slices.Values(vs))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
