package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// A command line that cannot be read is refused before anything starts, in one log
// line: run returns 2, main's exit code, without serving. So is --demo.clock when
// it cannot be read, or without --demo.
func TestFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--log.format=json", "--demo.clock=10:00"}, "--demo.clock needs --demo"},
		{[]string{"--log.format=json", "--demo", "--demo.clock=25:00"}, `"25:00" is neither HH:MM, an RFC 3339 time such as 2026-11-23T10:00:00-05:00, nor wall`},
		{[]string{"--log.format=json", "--demo", "--no-such-flag"}, "bad command line: unknown long flag '--no-such-flag'"},
		{[]string{"--log.format", "json", "--no-such-flag"}, "bad command line: unknown long flag '--no-such-flag'"},
	} {
		var out bytes.Buffer
		code := run(append([]string{"--web.listen-address=127.0.0.1:0"}, tc.args...), &out, &out)
		var line struct{ Level, Msg, Err string }
		if err := json.Unmarshal(out.Bytes(), &line); err != nil {
			t.Fatalf("%v: the output is not one JSON log line: %v\n%s", tc.args, err, out.String())
		}
		if code != 2 || line.Level != "error" || !strings.Contains(line.Msg+": "+line.Err, tc.want) {
			t.Errorf("%v: exit %d, output %q; want exit 2 and an error with %q", tc.args, code, out.String(), tc.want)
		}
	}
}
