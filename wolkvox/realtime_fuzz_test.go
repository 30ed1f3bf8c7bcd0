package wolkvox

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

// piiMarker stands for a customer's data: "PII" in a fuzz input is replaced with
// it, so the fuzzer moves it about, and no error may show any piece of it.
const piiMarker = "QzxqJvwkPmiiXq"

// FuzzRealtimeDecode reads any input with both real-time decoders, whole and one
// byte per read. They must not panic, must read the same whatever the reads' sizes,
// must not accept an answer that is not JSON, and must never show the customer's
// data in an error.
func FuzzRealtimeDecode(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "realtime_*.json"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, seed := range []string{
		`{"code":200,"data":[{"agent_id":"1","active_chats":[{"customer_phone":"PII","conversation":[{"from":"PII","msg":"PII \q","date":"2026-11-23 09:00:00"}]}]}]}`,
		`{"code":200,"data":[{"agent_id":"1","active_chats":[{"customer_phone":"PII","conversation":[{"from":"PII","msg":"PII`,
		`{"code":200,"data":[{"agent_id":"1","active_chats":[{"conversation":[{"msg":"PII"} {"msg":"PII"}]}]}]}`,
		`{"code":200,"data":[{"agent_id":"1","agent_status":"PII\u00"}]}`,
		`{"code":200,"data":"PII"}`,
		`{"code":200,"msg":"PII","data":[{"active_chats":[{"conversation":"PII"}],"agent_id":PII}]}`,
	} {
		f.Add([]byte(seed))
	}
	loc, err := time.LoadLocation("America/Bogota")
	if err != nil {
		f.Fatal(err)
	}
	decoders := map[string]func(io.Reader) (any, envelope, error){
		"chats": func(r io.Reader) (any, envelope, error) { return decodeOpenChats(r, loc) },
		"agents": func(r io.Reader) (any, envelope, error) {
			got, env, err := decodeAgents(r)
			return got, env, err
		},
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		in = bytes.ReplaceAll(in, []byte("PII"), []byte(piiMarker))
		var first json.RawMessage
		refErr := json.NewDecoder(bytes.NewReader(in)).Decode(&first)
		for name, decode := range decoders {
			got, env, err := decode(bytes.NewReader(in))
			got1, env1, err1 := decode(iotest.OneByteReader(bytes.NewReader(in)))
			if fmt.Sprint(err) != fmt.Sprint(err1) {
				t.Fatalf("%s: whole: err %v; one byte a read: err %v", name, err, err1)
			}
			if err != nil {
				for i := 0; i+4 <= len(piiMarker); i++ {
					if strings.Contains(err.Error(), piiMarker[i:i+4]) {
						t.Fatalf("%s: error shows the customer's data: %v", name, err)
					}
				}
				continue
			}
			if a, b := fmt.Sprintf("%+v %+v", got, env), fmt.Sprintf("%+v %+v", got1, env1); a != b {
				t.Fatalf("%s: whole read\n%s\none byte a read\n%s", name, a, b)
			}
			// Values below the depth encoding/json allows a whole answer may be
			// deeper than it allows in one.
			if refErr != nil && !strings.Contains(refErr.Error(), "max depth") {
				t.Fatalf("%s: accepted an answer that is not JSON (%v)", name, refErr)
			}
		}
	})
}
