package config

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"
)

// keyError is a validation error about one key of the file. Parse adds the line of
// the key, where the file sets it.
type keyError struct {
	path []any // from the top: keys, and indexes into lists, e.g. "operations", 0, "min_interval"
	err  error
}

func (e *keyError) Error() string { return e.err.Error() }
func (e *keyError) Unwrap() error { return e.err }

// keyErrorf is an error about key, which the message names.
func keyErrorf(key, format string, args ...any) error {
	return &keyError{path: []any{key}, err: fmt.Errorf(format, args...)}
}

// under puts an error about a key inside the list or mapping at path.
func under(err error, path ...any) error {
	if ke, ok := errors.AsType[*keyError](err); ok {
		ke.path = append(append([]any{}, path...), ke.path...)
	}
	return err
}

// lineError is an error about the value at n, in the form of yaml.v3's own errors
// ("line N: ..."), so that the decoder gathers it with them and Parse names its key.
func lineError(n *yaml.Node, format string, args ...any) error {
	return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: ", n.Line) + fmt.Sprintf(format, args...)}}
}

var lineRE = regexp.MustCompile(`^line (\d+): (.*)$`)

// describeDecodeErrors rewrites yaml.v3's decoding errors so that each names its key
// as well as its line: "line 9: operations[0].min_interval: ...". yaml.v3 names the
// Go type where users know only keys, so that part is dropped.
func describeDecodeErrors(root *yaml.Node, te *yaml.TypeError) error {
	msgs := make([]string, len(te.Errors))
	for i, msg := range te.Errors {
		msg = goTypeRE.ReplaceAllString(msg, "")
		if m := lineRE.FindStringSubmatch(msg); m != nil {
			line, _ := strconv.Atoi(m[1])
			key := keyAtLine(root, line)
			switch {
			case key == "":
			case strings.HasPrefix(m[2], "field "): // an unknown key: the message names it
				if known := closestKey(key); known != "" {
					msg += "; did you mean " + known + "?"
				}
			default:
				msg = fmt.Sprintf("line %d: %s: %s", line, key, m[2])
			}
		}
		msgs[i] = msg
	}
	return errors.New(strings.Join(msgs, "\n"))
}

// keyAtLine is the path of the innermost key written on line, or "".
func keyAtLine(n *yaml.Node, line int) string {
	var found string
	var walk func(n *yaml.Node, path string)
	walk = func(n *yaml.Node, path string) {
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, path)
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				walk(c, fmt.Sprintf("%s[%d]", path, i))
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				p := k.Value
				if path != "" {
					p = path + "." + k.Value
				}
				if k.Line == line {
					found = p
				}
				walk(v, p)
			}
		}
	}
	walk(n, "")
	return found
}

// lineOf is the line of the key at path, or 0 if the file does not set it.
func lineOf(n *yaml.Node, path []any) int {
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	line := 0
	for _, step := range path {
		switch s := step.(type) {
		case int:
			if n.Kind != yaml.SequenceNode || s >= len(n.Content) {
				return 0
			}
			n = n.Content[s]
		case string:
			if n.Kind != yaml.MappingNode {
				return 0
			}
			var next *yaml.Node
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == s {
					line, next = n.Content[i].Line, n.Content[i+1]
				}
			}
			if next == nil {
				return 0
			}
			n = next
		}
	}
	return line
}

// closestKey is the key the file may have meant where it wrote the unknown key at
// path ("operations[0].token-file"): a known key of the same mapping that differs
// only in case and separators, or in a letter or two; "" if none is that close.
func closestKey(path string) string {
	steps := strings.Split(indexRE.ReplaceAllString(path, ""), ".")
	t := reflect.TypeFor[Config]()
	for _, step := range steps[:len(steps)-1] {
		t = fieldType(t, step)
		if t == nil {
			return ""
		}
	}
	unknown := normalKey(steps[len(steps)-1])
	best, bestDistance := "", max(2, len(unknown)/3)+1
	for _, known := range yamlKeys(t) {
		if d := editDistance(unknown, normalKey(known)); d < bestDistance {
			best, bestDistance = known, d
		}
	}
	return best
}

var indexRE = regexp.MustCompile(`\[\d+\]`)

// fieldType is the type of the value under key in a mapping of type t, looking
// through pointers, lists and maps to their elements; nil if t has no such key.
func fieldType(t reflect.Type, key string) reflect.Type {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Map {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	for f := range t.Fields() {
		if name, _, _ := strings.Cut(f.Tag.Get("yaml"), ","); name == key {
			t = f.Type
			for t.Kind() == reflect.Slice || t.Kind() == reflect.Pointer {
				t = t.Elem()
			}
			return t
		}
	}
	return nil
}

// yamlKeys lists the keys a mapping of struct type t takes.
func yamlKeys(t reflect.Type) []string {
	if t.Kind() != reflect.Struct {
		return nil
	}
	var keys []string
	for f := range t.Fields() {
		if name, _, _ := strings.Cut(f.Tag.Get("yaml"), ","); name != "" && name != "-" {
			keys = append(keys, name)
		}
	}
	return keys
}

func normalKey(k string) string {
	return strings.NewReplacer("-", "_", " ", "_", ".", "_").Replace(strings.ToLower(k))
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

var durationType = reflect.TypeFor[model.Duration]()

// durationErrors finds, in the file's tree n, the values that the configuration
// t decodes as durations (prometheus/common's model.Duration) and that are not
// ones, each as a yaml.v3 error of its line. model.Duration's own error names no
// line, and stops the decoder at the first.
func durationErrors(n *yaml.Node, t reflect.Type) []string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var out []string
	switch {
	case n.Kind == yaml.DocumentNode:
		for _, c := range n.Content {
			out = append(out, durationErrors(c, t)...)
		}
	case t == durationType:
		if _, err := model.ParseDuration(n.Value); n.Kind != yaml.ScalarNode || err != nil {
			out = append(out, fmt.Sprintf("line %d: %q is not a duration: write a number and a unit, such as 90s, 5m, 1h or 1d", n.Line, n.Value))
		}
	case t.Kind() == reflect.Struct && n.Kind == yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if f, ok := fieldOfKey(t, n.Content[i].Value); ok {
				out = append(out, durationErrors(n.Content[i+1], f.Type)...)
			}
		}
	case t.Kind() == reflect.Slice && n.Kind == yaml.SequenceNode:
		for _, c := range n.Content {
			out = append(out, durationErrors(c, t.Elem())...)
		}
	}
	return out
}

// fieldOfKey is the field of struct t that the YAML key fills.
func fieldOfKey(t reflect.Type, key string) (reflect.StructField, bool) {
	for f := range t.Fields() {
		if name, _, _ := strings.Cut(f.Tag.Get("yaml"), ","); name == key {
			return f, true
		}
	}
	return reflect.StructField{}, false
}
