package config_test

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/wolkvox-exporter/wolkvox_exporter/config"
)

// server becomes the host name wv{server}.wolkvox.com, where the token is sent: only
// values that keep it a host under wolkvox.com are accepted.
func TestServerFormsAWolkvoxHostName(t *testing.T) {
	for _, tc := range []struct {
		server string
		ok     bool
	}{
		{"0010", true},
		{"1", true},
		{"12345", true},
		{"abcXYZ09", true},
		{"0123456789abcdef", true}, // 16, the most
		{"0123456789abcdefg", false},
		{"", false},
		{"0010.evil.com", false},
		{"0010.", false},
		{".0010", false},
		{"..", false},
		{"0010/x", false},
		{"0010\\x", false},
		{"0010@evil", false},
		{"x@evil.com/", false},
		{"0010:443", false},
		{"0010?x=1", false},
		{"0010#x", false},
		{"0010%2e", false},
		{"0010-1", false},
		{"0010_1", false},
		{" 0010", false},
		{"0010 ", false},
		{"0010\n", false},
		{"0010\x00", false},
		{"0010é", false},
		{"００１０", false},       // full-width digits
		{"٠٠١٠", false},       // Arabic-Indic digits
		{"0010\u200b", false}, // zero-width space
		{"ｅvil", false},
	} {
		t.Run(tc.server, func(t *testing.T) {
			quoted, err := json.Marshal(tc.server) // a JSON string is a YAML double-quoted scalar
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := config.Parse([]byte("operations:\n  - name: main\n    server: "+string(quoted)+"\n    token: abc123\n"), ".")
			if !tc.ok {
				if err == nil {
					t.Fatalf("server %q accepted, URL %q", tc.server, cfg.Operations[0].URL())
				}
				if !strings.Contains(err.Error(), "server") {
					t.Fatalf("server %q: error %q does not name the key", tc.server, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("server %q refused: %v", tc.server, err)
			}
			u, err := url.Parse(cfg.Operations[0].URL())
			if err != nil {
				t.Fatal(err)
			}
			if want := "wv" + tc.server + ".wolkvox.com"; u.Scheme != "https" || u.Host != want || u.User != nil || u.Path != "" {
				t.Fatalf("server %q gives URL %s, want https://%s", tc.server, u, want)
			}
		})
	}
}
