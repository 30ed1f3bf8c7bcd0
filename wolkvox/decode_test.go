package wolkvox

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/wolkvox-exporter/wolkvox_exporter/simulator"
)

// Generated answers, plain and escaped as PHP does, decode as the reference reads
// them, whatever the reads' sizes.
func TestDecodeGeneratedMatchesReference(t *testing.T) {
	for _, o := range []simulator.AnswerOptions{
		{Records: 300, Seed: 1},
		{Records: 300, Seed: 2, EscapeUnicode: true, AnswersKey: "agent_answers"},
	} {
		var body bytes.Buffer
		if _, err := simulator.WriteAnswer(&body, o); err != nil {
			t.Fatal(err)
		}
		want, _, _, err := refDecode(body.Bytes())
		if err != nil || len(want) != o.Records {
			t.Fatalf("reference: %d records, %v", len(want), err)
		}
		for name, s := range map[string]*scanner{
			"whole":           newScanner(bytes.NewReader(body.Bytes()), scanBufSize),
			"one byte a read": newScanner(iotest.OneByteReader(bytes.NewReader(body.Bytes())), 5),
			"half reads":      newScanner(iotest.HalfReader(bytes.NewReader(body.Bytes())), 100),
		} {
			var got []Record
			n, _, err := decodeWith(s, func(r *Record) { got = append(got, *r) })
			if err != nil || n.records != len(want) {
				t.Fatalf("%s (escaped %v): %d records, %v", name, o.EscapeUnicode, n.records, err)
			}
			for i := range want {
				if !sameRecord(got[i], want[i]) {
					t.Fatalf("%s: record %d:\n got %+v\nwant %+v", name, i+1, got[i], want[i])
				}
			}
			if got[0].AgentAnswers.Err != nil || got[0].AgentName == "" {
				t.Fatalf("%s: fields missing: %+v", name, got[0])
			}
		}
	}
}

// Tokens longer than the buffer: a kept one makes it grow, a skipped one streams.
func TestDecodeLongTokens(t *testing.T) {
	long := strings.Repeat("é", 100_000) // 200 KB
	in := `{"code":200,"data":[{"comments":"` + long + `","conn_id":"` + long + `","transfer":[` +
		strings.Repeat(`"x",`, 50_000) + `1],"` + strings.Repeat("k", 100_000) + `":1,"channel":"web"}]}`
	s := newScanner(bytes.NewReader([]byte(in)), scanBufSize)
	var got []Record
	n, _, err := decodeWith(s, func(r *Record) { got = append(got, *r) })
	if err != nil || n.records != 1 || got[0].ConnID != long || got[0].Channel != "web" {
		t.Fatalf("%d records, err %v", n.records, err)
	}
	if len(s.buf) > 4*len(long) {
		t.Fatalf("buffer grew to %d bytes for a %d-byte token", len(s.buf), len(long))
	}
}

// Errors say what and where, and never quote the answer's text.
func TestDecodeErrors(t *testing.T) {
	const secret = "Ana Perez ana@example.com"
	rec := `{"conn_id":"a","customer_name":"` + secret + `"}`
	for _, tc := range []struct{ in, want string }{
		{`{"data":[` + rec + `,{"customer_name":"` + secret + "\x01" + `"}]}`, "record 2: invalid character '\\x01' in string at byte"},
		{`{"data":[` + rec + `,{"customer_name":"` + secret + `\q"}]}`, "record 2: invalid character 'q' in string escape"},
		{`{"data":[` + rec + `,{"comments":"` + secret + `\u12G4"}]}`, `record 2: invalid \u escape`},
		{`{"data":[` + rec + `,{"customer_name":"` + secret + `"`, "record 2: answer ends early"},
		{`{"data":"` + secret + `"}`, "record 1: data is a string, not a list or an object"},
		{`{"data":[` + rec + `] "msg":"` + secret + `"}`, "invalid character '\"' after a value in the answer's object"},
		{`{"data":[],"data":[` + rec + `]}`, "data appears twice"},
		{`{"data":[{"x":` + strings.Repeat("[", maxDepth) + strings.Repeat("]", maxDepth) + `}]}`, "record 1: nesting deeper than 10000"},
		{`{"data":[{"x":01}]}`, "record 1: invalid character '1' after a value in a record"},
		{`{"data":[{"x":tru}]}`, "record 1: invalid character '}' in literal true"},
		{`<html>` + secret, "answer is not a JSON object: invalid character '<'"},
		{``, "answer is not a JSON object: answer ends early, at byte 0"},
	} {
		_, _, err := decodeAnswer(strings.NewReader(tc.in), func(*Record) {})
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%.60q...: err %v, want it to start with %q", tc.in, err, tc.want)
			continue
		}
		if strings.Contains(err.Error(), "Ana") || strings.Contains(err.Error(), "example") {
			t.Errorf("error quotes the answer: %v", err)
		}
	}
}

// An element of data that is not a record is skipped and counted; the records
// around it count. Only a null element is neither.
func TestDecodeSkipsElementsThatAreNotRecords(t *testing.T) {
	const secret = "Ana Perez ana@example.com"
	for _, tc := range []struct {
		data             string
		records, skipped int
	}{
		{`[{"conn_id":"a"},"` + secret + `",{"conn_id":"b"}]`, 2, 1},
		{`[{"conn_id":"a"},42,-1.5e3,{"conn_id":"b"}]`, 2, 2},
		{`[[{"conn_id":"nested"}],{"conn_id":"a"},[]]`, 1, 2},
		{`[true,false,{"conn_id":"a"}]`, 1, 2},
		{`[null,{"conn_id":"a"},null]`, 1, 0},
		{`["only junk"]`, 0, 1},
	} {
		var ids []string
		n, _, err := decodeAnswer(strings.NewReader(`{"code":200,"data":`+tc.data+`}`), func(r *Record) { ids = append(ids, r.ConnID) })
		if err != nil || n.records != tc.records || n.notRecords != tc.skipped || len(ids) != tc.records {
			t.Errorf("%s: %d records %v, %d skipped, err %v; want %d and %d", tc.data, n.records, ids, n.notRecords, err, tc.records, tc.skipped)
		}
	}
	// A skipped element is still checked: broken JSON inside it fails the answer.
	if _, _, err := decodeAnswer(strings.NewReader(`{"data":[{"conn_id":"a"},[1,}]}`), func(*Record) {}); err == nil {
		t.Error("a broken list in data was accepted")
	}
}

// A read error is passed on as it is, so the client can tell a timeout.
func TestDecodeReadError(t *testing.T) {
	in := io.MultiReader(strings.NewReader(`{"data":[{"conn_id":"a"},`), iotest.ErrReader(errTooLarge))
	n, _, err := decodeAnswer(in, func(*Record) {})
	if n.records != 1 || !errors.Is(err, errTooLarge) || !strings.HasPrefix(err.Error(), "record 2: answer exceeds max_response_size") {
		t.Fatalf("%d records, err %v", n.records, err)
	}
}
