package simulator_test

import (
	"bytes"
	"encoding/json"
	"io"
	"reflect"
	"testing"
	"unicode/utf8"

	"github.com/wolkvox-exporter/wolkvox_exporter/simulator"
)

func generate(t *testing.T, o simulator.AnswerOptions) []byte {
	t.Helper()
	var b bytes.Buffer
	n, err := simulator.WriteAnswer(&b, o)
	if err != nil || n != int64(b.Len()) {
		t.Fatalf("WriteAnswer: %d bytes, %v", n, err)
	}
	return b.Bytes()
}

func TestGeneratedAnswer(t *testing.T) {
	const n = 500
	body := generate(t, simulator.AnswerOptions{Records: n, Seed: 7})
	if !bytes.Equal(body, generate(t, simulator.AnswerOptions{Records: n, Seed: 7})) {
		t.Fatal("the same options gave different bytes")
	}
	if bytes.Equal(body, generate(t, simulator.AnswerOptions{Records: n, Seed: 8})) {
		t.Fatal("another seed gave the same bytes")
	}
	env, recs, single := decode(t, body)
	if single || len(recs) != n || string(env.Code) != "200" || env.Msg != "500 records were found" {
		t.Fatalf("code %s, msg %q, %d records (single %v)", env.Code, env.Msg, len(recs), single)
	}
	ids := map[string]bool{}
	comments := 0
	for _, r := range recs {
		ids[r["conn_id"]] = true
		for _, k := range []string{"customer_name", "customer_id", "agent_name", "date_close", "transfer", "agent_anwers "} {
			if r[k] == "" {
				t.Fatalf("field %q empty in %v", k, r)
			}
		}
		if c := utf8.RuneCountInString(r["comments"]); c >= 200 {
			comments++
			if c > 2100 {
				t.Fatalf("comment of %d characters", c)
			}
		}
	}
	if len(ids) != n {
		t.Fatalf("%d distinct conn_ids in %d records", len(ids), n)
	}
	// About a fifth of the chats carry a long comment.
	if comments < n/10 || comments > n*3/10 {
		t.Fatalf("%d long comments in %d records", comments, n)
	}
	// Records of about 900 bytes: a 60,000-record answer is about 54 MB.
	if per := len(body) / n; per < 700 || per > 1100 {
		t.Fatalf("%d bytes per record", per)
	}
	if even := generate(t, simulator.AnswerOptions{Records: 1, Seed: 2}); !bytes.HasPrefix(even, []byte(`{"code":"200"`)) {
		t.Fatalf("even seed: %.40s", even)
	}
}

// The escaped answer holds the same values, written as PHP's json_encode does.
func TestGeneratedAnswerEscaped(t *testing.T) {
	o := simulator.AnswerOptions{Records: 200, Seed: 3, AnswersKey: "agent_answers"}
	plain := generate(t, o)
	o.EscapeUnicode = true
	escaped := generate(t, o)
	for _, b := range escaped {
		if b >= utf8.RuneSelf {
			t.Fatal("escaped answer holds non-ASCII bytes")
		}
	}
	if !bytes.Contains(escaped, []byte(`\ud83d\`)) || !bytes.Contains(escaped, []byte(`\/`)) {
		t.Fatal("escaped answer has no surrogate pair or escaped slash")
	}
	var a, b any
	if err := json.Unmarshal(plain, &a); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(escaped, &b); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Fatal("escaped and plain answers differ in value")
	}
	if _, recs, _ := decode(t, plain); recs[0]["agent_answers"] == "" {
		t.Fatalf("AnswersKey ignored: %v", recs[0])
	}
}

// Reads of any size give the same bytes.
func TestGeneratedAnswerSmallReads(t *testing.T) {
	o := simulator.AnswerOptions{Records: 50, Seed: 5}
	want := generate(t, o)
	got, err := io.ReadAll(io.LimitReader(oneByteReader{simulator.NewAnswerReader(o)}, int64(len(want))+1))
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("byte-by-byte read differs (%d vs %d bytes, %v)", len(got), len(want), err)
	}
}

type oneByteReader struct{ r io.Reader }

func (o oneByteReader) Read(p []byte) (int, error) { return o.r.Read(p[:min(len(p), 1)]) }
