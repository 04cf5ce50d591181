package sip

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/callbrief/callbrief/call"
	"github.com/callbrief/callbrief/config"
)

// FromConfig turns the validated sip section of the configuration into a
// Config (without OnCall and Logger).
func FromConfig(c config.SIP) (Config, error) {
	host, _, err := net.SplitHostPort(c.Addr)
	if err != nil {
		return Config{}, fmt.Errorf("sip.addr: %w", err)
	}
	mip := c.MediaIP
	if mip == "" {
		mip = host
	}
	ip, err := netip.ParseAddr(mip)
	if err != nil {
		return Config{}, fmt.Errorf("sip.media_ip: %w", err)
	}
	out := Config{Addr: c.Addr, MediaIP: ip.Unmap(), RTPPortMin: c.RTPPortMin, RTPPortMax: c.RTPPortMax, MaxCalls: c.MaxCalls,
		SetupRate: c.SetupRate, SourceRate: c.SourceRate, RetryAfter: c.RetryAfter, Ring: c.Ring,
		MaxConnections: c.MaxConnections, FirstMessage: c.FirstMessage,
		SessionExpires: c.SessionExpires, MinSE: c.MinSE, ShortTimers: c.TestShortTimers, TLSAddr: c.TLS.Addr}
	if c.TLS.Addr != "" {
		cert, err := tls.LoadX509KeyPair(c.TLS.Cert, c.TLS.Key)
		if err != nil {
			return Config{}, fmt.Errorf("sip.tls.cert: %w", err)
		}
		out.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	for _, name := range strings.Split(c.Codecs, ",") {
		if strings.TrimSpace(name) == "" {
			continue
		}
		codec, err := ParseCodec(name)
		if err != nil {
			return Config{}, fmt.Errorf("sip.codecs: %w", err)
		}
		out.Codecs = append(out.Codecs, codec)
	}
	for _, t := range strings.Split(c.Transports, ",") {
		if t = strings.TrimSpace(t); t != "" {
			out.Transports = append(out.Transports, t)
		}
	}
	for i, t := range c.Trunks {
		tr := Trunk{Name: t.Name, Username: t.Username, Password: t.Password, Realm: t.Realm,
			NumberHeader: strings.ToLower(t.NumberHeader), Trusted: t.Trusted, RequireTLS: t.RequireTLS}
		for _, src := range t.Sources {
			p, err := netip.ParsePrefix(src)
			if err != nil {
				a, aerr := netip.ParseAddr(src)
				if aerr != nil {
					return Config{}, fmt.Errorf("sip.trunks[%d].sources: %q is not an address or CIDR", i, src)
				}
				p = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
			}
			tr.Sources = append(tr.Sources, p.Masked())
		}
		if len(t.Numbers) > 0 {
			tr.Numbers = map[string]call.Language{}
			for n, l := range t.Numbers {
				tr.Numbers[n] = call.Language(l)
			}
		}
		out.Trunks = append(out.Trunks, tr)
	}
	return out, nil
}
