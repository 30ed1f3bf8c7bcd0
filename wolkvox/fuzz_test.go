package wolkvox

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
)

// refRecord lets encoding/json match keys to the kept fields, with its own rules:
// exact name first, else without regard to case (Unicode folding included), and the
// last of repeated keys wins.
type refRecord struct {
	ConnID            json.RawMessage `json:"conn_id"`
	Channel           json.RawMessage `json:"channel"`
	Date              json.RawMessage `json:"date"`
	SkillID           json.RawMessage `json:"skill_id"`
	AgentID           json.RawMessage `json:"agent_id"`
	AgentName         json.RawMessage `json:"agent_name"`
	CodAct            json.RawMessage `json:"cod_act"`
	CodActDescription json.RawMessage `json:"description_cod_act"`
	Feeling           json.RawMessage `json:"feeling"`
	LastParticipant   json.RawMessage `json:"last_participant_who_spoke"`
	AnswerDelay       json.RawMessage `json:"ASA"`
	Duration          json.RawMessage `json:"chat_duration"`
	HandleTime        json.RawMessage `json:"time_on_agent"`
	CustomerChars     json.RawMessage `json:"customer_chars"`
	AgentChars        json.RawMessage `json:"agent_chars"`
	AgentAnwersSpace  json.RawMessage `json:"agent_anwers "`
	AgentAnwers       json.RawMessage `json:"agent_anwers"`
	AgentAnswers      json.RawMessage `json:"agent_answers"`
}

// refText normalises a value the way Record keeps it: a string's text (decoded by
// encoding/json, so bad UTF-8 becomes U+FFFD), nothing for null or a missing key,
// and anything else as written.
func refText(raw json.RawMessage) string {
	switch {
	case len(raw) == 0 || string(raw) == "null":
		return ""
	case raw[0] == '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			panic(err) // raw was checked as part of the whole answer
		}
		return s
	}
	return string(raw)
}

// refRecordOf reads a record with encoding/json; the text of its fields then makes
// a Record as the decoder's does.
func refRecordOf(raw json.RawMessage) (Record, error) {
	var r refRecord
	if err := json.Unmarshal(raw, &r); err != nil {
		return Record{}, err
	}
	fields := [numFields]json.RawMessage{
		fConnID: r.ConnID, fChannel: r.Channel, fDate: r.Date, fSkillID: r.SkillID, fAgentID: r.AgentID,
		fAgentName: r.AgentName, fCodAct: r.CodAct, fCodActDescription: r.CodActDescription, fFeeling: r.Feeling,
		fLastParticipant: r.LastParticipant, fAnswerDelay: r.AnswerDelay, fDuration: r.Duration, fHandleTime: r.HandleTime,
		fCustomerChars: r.CustomerChars, fAgentChars: r.AgentChars, fAgentAnwersSpace: r.AgentAnwersSpace,
		fAgentAnwers: r.AgentAnwers, fAgentAnswers: r.AgentAnswers,
	}
	var text [numFields]string
	for f, raw := range fields {
		text[f] = refText(raw)
	}
	var fm forms
	return *fm.record(strings.TrimSpace(text[fConnID]), &text), nil
}

// sameRecord compares records, their numbers' errors by message.
func sameRecord(a, b Record) bool { return fmt.Sprintf("%+v", a) == fmt.Sprintf("%+v", b) }

// refDecode is the reference decoder: encoding/json checks the whole answer, then
// walks it into generic values (raw values, in order), normalised as above.
func refDecode(in []byte) (recs []Record, notRecords int, env envelope, err error) {
	// Decoder.Decode, not Unmarshal: what follows the answer's object is not read.
	var top json.RawMessage
	if err = json.NewDecoder(bytes.NewReader(in)).Decode(&top); err != nil {
		return nil, 0, env, err
	}
	dec := json.NewDecoder(bytes.NewReader(top))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, 0, env, fmt.Errorf("not an object: %v", tok)
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, 0, env, err
		}
		key := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, 0, env, err
		}
		if strings.ToLower(strings.TrimSpace(key)) != "data" {
			env.set(key, raw)
			continue
		}
		if env.dataPassed {
			return nil, 0, env, errors.New("data appears twice")
		}
		env.dataPassed = true
		var list []json.RawMessage
		switch raw[0] {
		case 'n':
		case '{':
			list = []json.RawMessage{raw}
		case '[':
			if err := json.Unmarshal(raw, &list); err != nil {
				return nil, 0, env, err
			}
		default:
			return nil, 0, env, errors.New("data is not a list or an object")
		}
		for _, elem := range list {
			switch elem[0] {
			case 'n':
				continue
			case '{':
			default:
				notRecords++ // skipped, checked as JSON by the Unmarshal above
				continue
			}
			r, err := refRecordOf(elem)
			if err != nil {
				return nil, 0, env, err
			}
			recs = append(recs, r)
		}
	}
	return recs, notRecords, env, nil
}

// FuzzDecodeAnswer checks the streaming decoder against refDecode: the same error
// or success, the same records with the same kept fields, the same envelope. Each
// input is read whole, and one byte per read, so values straddle refills.
//
// Where the reference and the decoder differ, the reference states the intended
// semantics:
//   - data sent as a single object reads like a list element: keys in document
//     order, the last repeated key wins;
//   - the decoder counts encoding/json's nesting limit from each record (each
//     value of data's single object), the reference from the answer's object: an
//     answer the reference finds too deep only must not make the decoder panic.
func FuzzDecodeAnswer(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		want, wantNotRecords, wantEnv, wantErr := refDecode(in)
		for _, read := range []struct {
			name string
			r    io.Reader
		}{
			{"whole", bytes.NewReader(in)},
			{"bytewise", iotest.OneByteReader(bytes.NewReader(in))},
		} {
			var got []Record
			n, env, err := decodeAnswer(read.r, func(r *Record) { got = append(got, *r) })
			if wantErr != nil && strings.Contains(wantErr.Error(), "max depth") {
				continue
			}
			if (err != nil) != (wantErr != nil) {
				t.Fatalf("%s: err %v, reference err %v", read.name, err, wantErr)
			}
			if err != nil {
				continue
			}
			if n.records != len(got) || len(got) != len(want) || n.notRecords != wantNotRecords {
				t.Fatalf("%s: %d records (%d passed on), %d not records; reference %d and %d", read.name, n.records, len(got), n.notRecords, len(want), wantNotRecords)
			}
			for i := range want {
				if !sameRecord(got[i], want[i]) {
					t.Fatalf("%s: record %d:\n got %+v\nwant %+v", read.name, i+1, got[i], want[i])
				}
			}
			if env != wantEnv {
				t.Fatalf("%s: envelope %+v, reference %+v", read.name, env, wantEnv)
			}
		}
	})
}
