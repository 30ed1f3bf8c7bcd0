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
		for name, r := range map[string]io.Reader{
			"whole":           bytes.NewReader(body.Bytes()),
			"one byte a read": iotest.OneByteReader(bytes.NewReader(body.Bytes())),
			"half reads":      iotest.HalfReader(bytes.NewReader(body.Bytes())),
		} {
			var got []Record
			n, _, err := decodeAnswer(r, func(r *Record) { got = append(got, *r) })
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

// A record reads the same as an element of a list and as data's single object,
// which is read a member at a time: keys match as encoding/json matches them.
func TestDecodeSingleObjectMatchesList(t *testing.T) {
	for _, rec := range []string{
		`{"conn_id":"a","ASA":"12","asa":"13","Channel":"Web","CHANNEL":null}`,
		`{"conn_id":"a","agent_anwers ":"","agent_anwers":"4","agent_answers":"5","AGENT_ANSWERS":"6"}`,
		`{"conn_id":7,"chat_duration":95.5,"customer_chars":{"x":1},"agent_chars":[1],"feeling":true}`,
		`{"c\u006fnn_id":"escaped key","agent_\u0131d":"dotless i","\u017fkill_id":"long s","conn_id ":"not conn_id"}`,
		"{\"conn_id\":\"bad \xff UTF-8\",\"agent_name\":\"Jim\\u00e9nez \\ud83d\\ude42 \\ud800\",\"customer_name\":\"Ana\"}",
		`{}`,
	} {
		want, _, _, err := refDecode([]byte(`{"data":[` + rec + `]}`))
		if err != nil || len(want) != 1 {
			t.Fatalf("%s: reference: %d records, %v", rec, len(want), err)
		}
		for _, data := range []string{"[" + rec + "]", rec} {
			var got []Record
			n, _, err := decodeAnswer(strings.NewReader(`{"data":`+data+`}`), func(r *Record) { got = append(got, *r) })
			if err != nil || n.records != 1 || len(got) != 1 {
				t.Fatalf("data %s: %d records, err %v", data, n.records, err)
			}
			if !sameRecord(got[0], want[0]) {
				t.Errorf("data %s:\n got %+v\nwant %+v", data, got[0], want[0])
			}
		}
	}
}

// Values far longer than the decoder's first buffer: a kept one is read whole,
// skipped ones (a comment, a list, a key) are passed over. encoding/json holds one
// element of data at a time, so its buffer grows to the longest record.
func TestDecodeLongTokens(t *testing.T) {
	long := strings.Repeat("é", 100_000) // 200 KB
	in := `{"code":200,"data":[{"comments":"` + long + `","conn_id":"` + long + `","transfer":[` +
		strings.Repeat(`"x",`, 50_000) + `1],"` + strings.Repeat("k", 100_000) + `":1,"channel":"web"}]}`
	for name, r := range map[string]io.Reader{
		"whole":      strings.NewReader(in),
		"half reads": iotest.HalfReader(strings.NewReader(in)),
	} {
		var got []Record
		n, _, err := decodeAnswer(r, func(r *Record) { got = append(got, *r) })
		if err != nil || n.records != 1 || got[0].ConnID != long || got[0].Channel != "web" {
			t.Fatalf("%s: %d records, err %v", name, n.records, err)
		}
	}
}

// Errors say what and where, and never quote the answer's text.
func TestDecodeErrors(t *testing.T) {
	const secret = "Ana Perez ana@example.com"
	rec := `{"conn_id":"a","customer_name":"` + secret + `"}`
	for _, tc := range []struct{ in, want string }{
		{`{"data":[` + rec + `,{"customer_name":"` + secret + "\x01" + `"}]}`, "record 2: invalid character '\\x01' in string literal"},
		{`{"data":[` + rec + `,{"customer_name":"` + secret + `\q"}]}`, "record 2: invalid character 'q' in string escape code"},
		{`{"data":[` + rec + `,{"comments":"` + secret + `\u12G4"}]}`, `record 2: invalid character 'G' in \u hexadecimal character escape`},
		{`{"data":[` + rec + `,{"customer_name":"` + secret + `"`, "record 2: answer ends early"},
		{`{"data":{"conn_id":"a","customer_name":"` + secret + `"`, "answer ends early"},
		{`{"data":"` + secret + `"}`, "data is a string, not a list or an object"},
		{`{"data":[` + rec + `] "msg":"` + secret + `"}`, "invalid character '\"' after object key:value pair"},
		{`{"data":[],"data":[` + rec + `]}`, "data appears twice"},
		// encoding/json's nesting limit, 10,000, counted from each record.
		{`{"data":[{"x":` + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + `}]}`, "record 1: invalid character '[' exceeded max depth"},
		{`{"data":[{"x":01}]}`, "record 1: invalid character '1' after object key:value pair"},
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
