package config

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/callbrief/callbrief/media/sip/siptest"
)

const sipYAML = `sip:
  addr: 127.0.0.1:5060
  trunks:
    - name: carrier
      sources: [192.0.2.0/24, 198.51.100.7]
      username: pbx
      password: hunter2
      number_header: p-asserted-identity
      trusted: true
      numbers: {"+85230001234": yue, "*": en}
`

func loadSIP(t *testing.T, yaml string, overrides ...string) (Config, error) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(p, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return Load(p, nil, overrides)
}

// TestSIPConfig: off by default; a trunk file loads; each bad field is
// named; the overrides a report prints never show a trunk's password.
func TestSIPConfig(t *testing.T) {
	if d := Default(); d.SIP.Addr != "" || d.Validate() != nil {
		t.Fatalf("SIP must be off by default: %+v", d.SIP)
	}
	c, err := loadSIP(t, sipYAML)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.SIP.Trunks) != 1 || c.SIP.Trunks[0].Numbers["+85230001234"] != "yue" || !c.SIP.Trunks[0].Trusted {
		t.Fatalf("%+v", c.SIP)
	}
	ov := strings.Join(Overrides(c), "\n")
	if strings.Contains(ov, "hunter2") || !strings.Contains(ov, "sip.trunks=[carrier]") {
		t.Errorf("overrides:\n%s", ov)
	}
	for _, tc := range []struct{ yaml, field string }{
		{strings.Replace(sipYAML, "127.0.0.1:5060", "0.0.0.0:5060", 1), "sip.media_ip"},
		{strings.Replace(sipYAML, "127.0.0.1:5060", "nonsense", 1), "sip.addr"},
		{strings.Replace(sipYAML, "198.51.100.7", "example.com", 1), "sip.trunks[0].sources"},
		{strings.Replace(sipYAML, "p-asserted-identity", "x-number", 1), "sip.trunks[0].number_header"},
		{strings.Replace(sipYAML, "yue,", "fr,", 1), "sip.trunks[0].numbers"},
		{strings.Replace(sipYAML, "      password: hunter2\n", "", 1), "sip.trunks[0].password"},
		{strings.Replace(sipYAML, "name: carrier", "name: \"\"", 1), "sip.trunks[0].name"},
		{"sip:\n  addr: 127.0.0.1:5060\n", "sip.trunks"},
		{sipYAML + "  handoffs:\n    - {group: billing, to: phone}\n", "sip.handoffs[0].to"},
		{sipYAML + "  handoffs:\n    - {group: \"\", to: desk}\n", "sip.handoffs[0].group"},
		{sipYAML + "  handoffs:\n    - {group: a, to: desk}\n    - {group: a, to: desk}\n", "sip.handoffs[1].group"},
		{sipYAML + "  desk_url: https://d.example\n  handoffs:\n    - {group: a, to: acd, acd: \"tel:+123\"}\n", "sip.handoffs[0].acd"},
		{sipYAML + "  desk_url: https://d.example\n  handoffs:\n    - {group: a, to: acd, acd: \"sip:q@h?X=1\"}\n", "sip.handoffs[0].acd"},
		{sipYAML + "  desk_url: https://d.example\n  handoffs:\n    - {group: a, to: acd, acd: \"sip:h:99999\"}\n", "sip.handoffs[0].acd"},
		{sipYAML + "  handoffs:\n    - {group: a, to: acd, acd: \"sip:q@h:5060\"}\n", "sip.desk_url"},
		{sipYAML + "  desk_url: ftp://d\n", "sip.desk_url"},
		{sipYAML + "  transfer_timeout: 10ms\n", "sip.transfer_timeout"},
	} {
		_, err := loadSIP(t, tc.yaml)
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("want an error naming %s, got %v", tc.field, err)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("error shows the password: %v", err)
		}
	}
	good := sipYAML + "  desk_url: https://desk.example\n  handoffs:\n    - {group: billing, to: acd, acd: \"sip:billing@192.0.2.9:5060\"}\n    - {group: device_support, to: desk}\n"
	if c, err := loadSIP(t, good); err != nil || len(c.SIP.Handoffs) != 2 || c.SIP.Handoffs[0].ACD != "sip:billing@192.0.2.9:5060" || c.SIP.TransferTimeout != 30*time.Second {
		t.Errorf("handoffs: %+v %v", c.SIP, err)
	}
	for _, o := range []string{"sip.rtp_port_min=100", "sip.max_calls=0", "sip.setup_rate=0", "sip.retry_after=10ms", "sip.transports=udp,sctp"} {
		if _, err := loadSIP(t, sipYAML, o); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), strings.Split(o, "=")[0]) {
			t.Errorf("%s: %v", o, err)
		}
	}
	if _, err := loadSIP(t, sipYAML, "sip.trunks=x"); err == nil {
		t.Error("trunks set from text")
	}
}

// TestSIPTLSAndTimerConfig: the TLS listener's certificate must load (a
// missing or wrong file is named, its key never shown), require_tls
// needs the listener, and session timers stay at or above RFC 4028's
// 90 s unless test_short_timers.
func TestSIPTLSAndTimerConfig(t *testing.T) {
	dir := t.TempDir()
	certs, err := siptest.MakeCerts(dir, net.IPv4(127, 0, 0, 1))
	if err != nil {
		t.Fatal(err)
	}
	withTLS := sipYAML + "  tls: {addr: 127.0.0.1:5061, cert: " + certs.CertFile + ", key: " + certs.KeyFile + "}\n"
	c, err := loadSIP(t, strings.Replace(withTLS, "trusted: true", "trusted: true\n      require_tls: true", 1))
	if err != nil || c.SIP.TLS.Addr != "127.0.0.1:5061" || !c.SIP.Trunks[0].RequireTLS {
		t.Fatalf("%+v %v", c.SIP, err)
	}
	key, _ := os.ReadFile(certs.KeyFile)
	for _, tc := range []struct{ yaml, field, says string }{
		{strings.Replace(withTLS, certs.CertFile, filepath.Join(dir, "missing.pem"), 1), "sip.tls.cert", "missing.pem"},
		// The key given as the certificate: the error says what is
		// wrong with the file, not what is in it.
		{strings.Replace(withTLS, "cert: "+certs.CertFile, "cert: "+certs.KeyFile, 1), "sip.tls.cert", "certificate"},
		{strings.Replace(withTLS, "cert: "+certs.CertFile+", ", "", 1), "sip.tls.cert", "required"},
		{strings.Replace(withTLS, "addr: 127.0.0.1:5061, ", "", 1), "sip.tls.addr", "required"},
		{strings.Replace(withTLS, "127.0.0.1:5061", "127.0.0.1", 1), "sip.tls.addr", "host:port"},
		{strings.Replace(sipYAML, "trusted: true", "trusted: true\n      require_tls: true", 1), "sip.trunks[0].require_tls", "sip.tls.addr"},
		{sipYAML + "  min_se: 10s\n", "sip.min_se", "1m30s"},
		{sipYAML + "  min_se: 90500ms\n", "sip.min_se", "whole seconds"},
		{sipYAML + "  min_se: 120s\n  session_expires: 100s\n", "sip.session_expires", "min_se"},
	} {
		_, err := loadSIP(t, tc.yaml)
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.field) || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("want an error naming %s (%s), got %v", tc.field, tc.says, err)
		}
		if err != nil && strings.Contains(err.Error(), strings.TrimSpace(string(key[30:60]))) {
			t.Errorf("error shows the key: %v", err)
		}
	}
	c, err = loadSIP(t, sipYAML+"  min_se: 3s\n  session_expires: 6s\n  test_short_timers: true\n")
	if err != nil || c.SIP.MinSE != 3*time.Second || c.SIP.SessionExpires != 6*time.Second {
		t.Errorf("short timers for tests: %+v %v", c.SIP, err)
	}
	if d := Default(); d.SIP.SessionExpires != 30*time.Minute || d.SIP.MinSE != 90*time.Second {
		t.Errorf("defaults: %s, %s", d.SIP.SessionExpires, d.SIP.MinSE)
	}
}
