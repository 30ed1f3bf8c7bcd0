package e2e

import (
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/wolkvox-exporter/wolkvox_exporter/simulator"
)

// secretToken is random-looking, so that any 8 characters of it found in an output
// can only have come from the token.
const secretToken = "Vq8Tz3-Nw5Kb-Ry2Hm-Jx6Pd"

// tokenPiece returns a piece of at least 8 characters of secret found in s, or "".
// A token cut short (by a snippet, say) is still a leak.
func tokenPiece(s, secret string) string {
	const minPiece = 8
	for i := 0; i+minPiece <= len(secret); i++ {
		if piece := secret[i : i+minPiece]; strings.Contains(s, piece) {
			return piece
		}
	}
	return ""
}

// tokenEcho answers every call with a body that holds the token the call carried,
// and records that a call carried it.
type tokenEcho struct {
	status int
	body   func(token string) string
	header func(w http.ResponseWriter, token string)

	mu   sync.Mutex
	sent []string
}

func (e *tokenEcho) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	token := r.Header.Get("wolkvox-token")
	e.mu.Lock()
	e.sent = append(e.sent, token)
	e.mu.Unlock()
	if e.header != nil {
		e.header(w, token)
	}
	w.WriteHeader(e.status)
	_, _ = io.WriteString(w, e.body(token))
}

func (e *tokenEcho) tokens() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.sent...)
}

// The token never shows in the logs (at debug level, so every level is there, in
// both formats), in errors, in /metrics, in the landing page or in /config, whatever
// the API answers, including answers that echo the token back.
func TestTokenNeverShown(t *testing.T) {
	// An error snippet keeps the first 120 characters of a body that is not JSON; this
	// padding puts the snippet's cut in the middle of the token.
	pad := strings.Repeat("x", 100)
	for _, tc := range []struct {
		name       string
		echo       *tokenEcho // nil: the simulator, answering normally
		wantResult string     // the result label of the call
	}{
		{name: "normal answer", wantResult: "success"},
		{name: "Wolkvox JSON error echoing the token", wantResult: "unauthorized", echo: &tokenEcho{
			status: http.StatusForbidden,
			body: func(tok string) string {
				return `{"code":403,"error":"PLEASE VALIDATE TOKEN ` + tok + `","msg":"token ` + tok + ` is not valid","data":null}`
			},
		}},
		{name: "error code inside a 200 echoing the token", wantResult: "api_error", echo: &tokenEcho{
			status: http.StatusOK,
			body:   func(tok string) string { return `{"code":500,"error":"failed for ` + tok + `","msg":"","data":[]}` },
		}},
		{name: "HTML error page echoing the token where the snippet is cut", wantResult: "http_error", echo: &tokenEcho{
			status: http.StatusBadGateway,
			body:   func(tok string) string { return "<html><body>" + pad + tok + " " + tok + "</body></html>" },
		}},
		{name: "200 answer that is not JSON echoing the token", wantResult: "decode_error", echo: &tokenEcho{
			status: http.StatusOK,
			body:   func(tok string) string { return "token=" + tok },
		}},
		{name: "redirect to another host carrying the token", wantResult: "http_error", echo: &tokenEcho{
			status: http.StatusFound,
			header: func(w http.ResponseWriter, tok string) {
				w.Header().Set("Location", "http://127.0.0.2:9/steal?token="+tok)
			},
			body: func(string) string { return "" },
		}},
	} {
		// Each log format once, and each way of giving the token once.
		for _, run := range []struct{ format, tokenKey string }{{"logfmt", "token_file"}, {"json", "token"}} {
			t.Run(tc.name+"/"+run.format+","+run.tokenKey, func(t *testing.T) {
				var upstream http.Handler = simulator.NewServer(officeTraffic(5, 600), simulator.Options{Token: secretToken})
				var echo *tokenEcho // this run's, so that it sees only this run's calls
				if tc.echo != nil {
					echo = &tokenEcho{status: tc.echo.status, body: tc.echo.body, header: tc.echo.header}
					upstream = echo
				}
				api := httptest.NewServer(upstream)
				defer api.Close()
				dir := t.TempDir()
				writeFile(t, filepath.Join(dir, "token"), secretToken+"\n")
				cfg := "operations:\n" + operationYAML("main", api.URL, "")
				if run.tokenKey == "token" {
					cfg = strings.Replace(cfg, "token_file: token", "token: "+secretToken, 1)
				}
				cfgPath := filepath.Join(dir, "config.yml")
				writeFile(t, cfgPath, cfg)
				e := startExporter(t, "--config.file="+cfgPath, "--log.level=debug", "--log.format="+run.format)

				outputs := map[string]string{}
				for _, path := range []string{"/metrics", "/", "/config", "/-/healthy", "/-/ready"} {
					status, body := e.get(t, path)
					if status != http.StatusOK {
						t.Fatalf("GET %s: %d %s", path, status, body)
					}
					outputs["GET "+path] = body
				}
				if echo != nil {
					if sent := echo.tokens(); len(sent) == 0 || sent[0] != secretToken {
						t.Fatalf("the API got tokens %q; the test proves nothing unless it got the token", sent)
					}
				}
				parser := expfmt.NewTextParser(model.UTF8Validation)
				mfs, err := parser.TextToMetricFamilies(strings.NewReader(outputs["GET /metrics"]))
				if err != nil {
					t.Fatal(err)
				}
				if v := single(t, mfs, "wolkvox_api_requests_total", map[string]string{"result": tc.wantResult}); v != 1 {
					t.Fatalf("wolkvox_api_requests_total{result=%q} = %v, want 1", tc.wantResult, v)
				}

				// A reload that fails on a token error answers with the error.
				writeFile(t, cfgPath, "operations:\n  - name: main\n    server: \"0010\"\n    token: \""+secretToken+" x\"\n")
				status, body := request(t, http.MethodPost, e.url+"/-/reload", nil)
				if status != http.StatusInternalServerError || !strings.Contains(body, "whitespace") {
					t.Fatalf("bad reload: %d %q", status, body)
				}
				outputs["POST /-/reload"] = body

				// The lines of the call (at debug level if it succeeded) and of the reload.
				if echo == nil {
					e.logs.waitFor(t, "chat_1 query done")
				} else {
					e.logs.waitFor(t, "chat_1 query failed")
				}
				e.logs.waitFor(t, "configuration reload failed")
				outputs["log"] = e.logs.String()
				for where, out := range outputs {
					if piece := tokenPiece(out, secretToken); piece != "" {
						t.Errorf("%s holds %q of the token:\n%s", where, piece, out)
					}
				}
			})
		}
	}
}
