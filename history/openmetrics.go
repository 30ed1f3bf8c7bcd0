package history

import (
	"bufio"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/wolkvox-exporter/wolkvox_exporter/tally"
)

// openMetrics writes samples as OpenMetrics text with timestamps, which promtool
// tsdb create-blocks-from openmetrics reads. The caller ends it with # EOF.
type openMetrics struct {
	w    *bufio.Writer
	line []byte
}

// OpenMetrics is the output that writes days as OpenMetrics text to w, each family
// of a day after the other; the caller ends it with # EOF.
func OpenMetrics(w io.Writer) Output { return &openMetrics{w: bufio.NewWriterSize(w, 1<<16)} }

// day starts a day of text: it needs nothing of its own.
func (o *openMetrics) day(_, _ time.Time) (dayOutput, error) { return o, nil }

// end writes out what the day left in the buffer.
func (o *openMetrics) end() error { return o.w.Flush() }

// family writes the HELP and TYPE lines of a family, named as OpenMetrics names it:
// a counter without _total.
func (o *openMetrics) family(f *tally.Family) {
	name := f.Name
	if f.Kind == tally.Counter {
		name = strings.TrimSuffix(name, "_total")
	}
	_, _ = o.w.WriteString("# HELP " + name + " " + helpEscaper.Replace(f.Help) + "\n# TYPE " + name + " " + f.Kind.String() + "\n")
}

// omSeries is the start of each sample line of a series: a counter's value, or a
// histogram's buckets, count and sum.
type omSeries struct {
	o                 *openMetrics
	value, count, sum string
	buckets           []string
}

// series returns the lines of family f's series with these label values, and the
// target labels after them; bounds are a histogram's.
func (o *openMetrics) series(f *tally.Family, values tally.Labels, target []Label, bounds []float64) seriesOutput {
	var b strings.Builder
	for i, name := range f.LabelNames() {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(name + "=" + quoteLabel(values[i]))
	}
	for _, l := range target {
		b.WriteString("," + l.Name + "=" + quoteLabel(l.Value))
	}
	labels := b.String()
	if f.Kind == tally.Counter {
		return &omSeries{o: o, value: f.Name + "{" + labels + "} "}
	}
	s := &omSeries{o: o, count: f.Name + "_count{" + labels + "} ", sum: f.Name + "_sum{" + labels + "} "}
	for _, bound := range bounds {
		s.buckets = append(s.buckets, f.Name+"_bucket{"+labels+`,le="`+formatLe(bound)+`"} `)
	}
	s.buckets = append(s.buckets, f.Name+"_bucket{"+labels+`,le="+Inf"} `)
	return s
}

// sample writes the series' value at a time, in Unix seconds to the millisecond: a
// histogram's cumulative buckets, count and sum.
func (s *omSeries) sample(c *tally.Cell, at time.Time) {
	o, sec := s.o, float64(at.UnixMilli())/1000
	if s.buckets == nil {
		o.write(s.value, c.Sum, sec)
		return
	}
	var running uint64
	for i, n := range c.Buckets {
		running += n
		o.write(s.buckets[i], float64(running), sec)
	}
	o.write(s.count, float64(c.Count), sec)
	o.write(s.sum, c.Sum, sec)
}

func (o *openMetrics) write(start string, v, at float64) {
	o.line = append(o.line[:0], start...)
	o.line = strconv.AppendFloat(o.line, v, 'f', -1, 64)
	o.line = append(o.line, ' ')
	o.line = strconv.AppendFloat(o.line, at, 'f', -1, 64)
	o.line = append(o.line, '\n')
	_, _ = o.w.Write(o.line) // bufio errors are sticky: flush reports them
}

// formatLe writes a bucket bound as OpenMetrics and Prometheus 3 write it: 20.0.
func formatLe(b float64) string {
	s := strconv.FormatFloat(b, 'f', -1, 64)
	if !strings.ContainsAny(s, ".e") {
		s += ".0"
	}
	return s
}

var (
	labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
)

// quoteLabel writes a label value as OpenMetrics quotes it.
func quoteLabel(v string) string { return `"` + labelEscaper.Replace(v) + `"` }
