package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// selfSignedCert writes a certificate for 127.0.0.1 and its key to dir, and returns
// their paths and a pool that trusts the certificate.
func selfSignedCert(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "wolkvox_exporter test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeFile(t, certFile, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	writeFile(t, keyFile, string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})))
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// bcrypt (cost 10) of "scrape-password".
const scrapeUsers = "basic_auth_users:\n  prometheus: $2a$10$QY3.RL.5662Q53lqqesKwulvRY3J2yrFxeCoTqxAm4NXmGNyTofoy\n"

// --web.config.file reaches the exporter-toolkit: basic auth guards every endpoint,
// and with TLS the exporter speaks only HTTPS.
func TestWebConfig(t *testing.T) {
	type auth struct{ user, password string }
	right := &auth{"prometheus", "scrape-password"}
	for _, tc := range []struct {
		name string
		tls  bool
	}{
		{"basic auth", false},
		{"TLS and basic auth", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			webConfig := scrapeUsers
			client := &http.Client{}
			if tc.tls {
				certFile, keyFile, pool := selfSignedCert(t, dir)
				webConfig += fmt.Sprintf("tls_server_config:\n  cert_file: %s\n  key_file: %s\n", certFile, keyFile)
				client.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
			}
			webConfigPath := filepath.Join(dir, "web.yml")
			writeFile(t, webConfigPath, webConfig)
			e := startExporter(t, "--demo", "--web.config.file="+webConfigPath)
			base := e.url
			if tc.tls {
				base = "https://" + strings.TrimPrefix(e.url, "http://")
			}
			get := func(client *http.Client, url string, a *auth) (int, string, error) {
				req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
				if err != nil {
					t.Fatal(err)
				}
				if a != nil {
					req.SetBasicAuth(a.user, a.password)
				}
				resp, err := client.Do(req)
				if err != nil {
					return 0, "", err
				}
				defer resp.Body.Close()
				b, err := io.ReadAll(resp.Body)
				return resp.StatusCode, string(b), err
			}

			for _, path := range []string{"/metrics", "/config", "/", "/-/healthy"} {
				for _, c := range []struct {
					what string
					auth *auth
				}{
					{"no credentials", nil},
					{"wrong password", &auth{"prometheus", "scrape-passwore"}},
					{"empty password", &auth{"prometheus", ""}},
					{"unknown user", &auth{"grafana", "scrape-password"}},
				} {
					status, body, err := get(client, base+path, c.auth)
					if err != nil {
						t.Fatalf("GET %s with %s: %v", path, c.what, err)
					}
					if status != http.StatusUnauthorized {
						t.Errorf("GET %s with %s: %d, want 401", path, c.what, status)
					}
					if strings.Contains(body, "wolkvox_up") || strings.Contains(body, "operations:") {
						t.Errorf("GET %s with %s served content: %s", path, c.what, body)
					}
				}
			}
			status, body, err := get(client, base+"/metrics", right)
			if err != nil || status != http.StatusOK || !strings.Contains(body, "wolkvox_up") {
				t.Fatalf("GET /metrics with the right password: %d, %v", status, err)
			}
			if !tc.tls {
				return
			}
			// Plain HTTP to the TLS port gets no metrics, with or without the password.
			status, body, err = get(&http.Client{}, e.url+"/metrics", right)
			if err == nil && (status == http.StatusOK || strings.Contains(body, "wolkvox_up")) {
				t.Errorf("plain HTTP to the TLS port: %d %q", status, body)
			}
			// A client that does not trust the certificate does not get through.
			if _, _, err := get(&http.Client{}, base+"/metrics", right); err == nil {
				t.Error("HTTPS without the CA succeeded")
			} else if !strings.Contains(err.Error(), "certificate") {
				t.Errorf("HTTPS without the CA: %v, want a certificate error", err)
			}
		})
	}
}
