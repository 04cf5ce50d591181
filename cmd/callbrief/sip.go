package main

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/callbrief/callbrief/config"
	"github.com/callbrief/callbrief/media/sip"
	"github.com/callbrief/callbrief/tts"
)

// mountSIP starts the SIP listeners when sip.addr is set: each telephone
// call runs the same pipeline as a WebRTC call. The caller's number goes
// to the pipeline as the claim it is (it never verifies anyone), from the
// header the trunk is configured to carry it in.
func (s *server) mountSIP(ctx context.Context) error {
	if s.cfg.SIP.Addr == "" {
		return nil
	}
	cfg, err := sip.FromConfig(s.cfg.SIP)
	if err != nil {
		return err
	}
	groups := s.stack.Data.Router.Groups()
	for i, h := range s.cfg.SIP.Handoffs {
		if !slices.Contains(groups, h.Group) {
			return fmt.Errorf("%w: sip.handoffs[%d].group: %q is not a skill group (%s)", config.ErrInvalid, i, h.Group, strings.Join(groups, ", "))
		}
		if h.To == "acd" {
			if s.acd == nil {
				s.acd = map[string]string{}
			}
			s.acd[h.Group] = h.ACD
		}
	}
	synth, err := s.eng.Synthesizer()
	if err != nil {
		return err
	}
	synth = tts.NewCache(synth, 0)
	cfg.Logger = s.log
	cfg.OnCall = func(c *sip.Call) {
		cl := c.Caller()
		s.runCall(ctx, c, synth, callOpts{number: pipelineNumber(cl), lang: cl.Line, join: true, external: true})
	}
	srv, err := sip.NewServer(cfg)
	if err != nil {
		return err
	}
	if err := srv.Listen(ctx); err != nil {
		return err
	}
	s.sip = srv
	registerSIPMetrics(s.metrics.Registry, srv)
	return nil
}

// pipelineNumber is the number the pipeline is given for a SIP caller:
// only one the trunk vouches for. The pipeline's verification may match
// a given number against the account's (ani_match), so a number that is
// only the caller's claim (an untrusted trunk's From, or a trusted
// trunk's From when its identity header was missing) is not given, just
// as a WebRTC caller's is not; it stays in the SIP log line.
func pipelineNumber(cl sip.Caller) string {
	if !cl.Trusted {
		return ""
	}
	return cl.Number
}

// registerSIPMetrics exports the SIP server's counters: what was refused
// and why, and what was dropped unanswered.
func registerSIPMetrics(reg *prometheus.Registry, srv *sip.Server) {
	c := srv.Counters()
	for name, v := range map[string]interface{ Load() uint64 }{
		"invites": &c.Invites, "answered": &c.Answered, "cancelled": &c.Cancelled, "reinvites": &c.ReInvites,
		"options": &c.Options, "info_keys": &c.InfoKeys, "no_ack": &c.NoAck,
	} {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "callbrief_sip_" + name + "_total",
			Help: "SIP " + name + " since start"}, func() float64 { return float64(v.Load()) }))
	}
	for code, v := range map[int]interface{ Load() uint64 }{400: &c.Refused400, 401: &c.Refused401, 403: &c.Refused403, 404: &c.Refused404,
		405: &c.Refused405, 415: &c.Refused415, 422: &c.Refused422, 481: &c.Refused481, 488: &c.Refused488, 503: &c.Refused503} {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "callbrief_sip_refused_total",
			Help: "SIP requests refused, by the status answered", ConstLabels: prometheus.Labels{"code": fmt.Sprint(code)}},
			func() float64 { return float64(v.Load()) }))
	}
	for why, v := range map[string]interface{ Load() uint64 }{"malformed": &c.DroppedMalformed, "flood": &c.DroppedFlood, "rtp_wrong_source": &c.RTPWrongSource} {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "callbrief_sip_dropped_total",
			Help: "SIP datagrams and RTP packets dropped unanswered, by why", ConstLabels: prometheus.Labels{"why": why}},
			func() float64 { return float64(v.Load()) }))
	}
	for result, v := range map[string]interface{ Load() uint64 }{"transferred": &c.Transferred, "refused": &c.TransfersRefused, "failed": &c.TransfersFailed} {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "callbrief_sip_transfers_total",
			Help: "Blind transfers to the contact centre's ACD (REFER), by result", ConstLabels: prometheus.Labels{"result": result}},
			func() float64 { return float64(v.Load()) }))
	}
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "callbrief_sip_calls", Help: "SIP calls up"},
		func() float64 { return float64(srv.Active()) }))
}
