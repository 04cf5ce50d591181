package web

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"time"

	"github.com/callbrief/callbrief/media/webrtc"
)

// Media is the audio side of calls on the desk: whether a call's caller
// is on the line, and joining the agent's microphone and speaker to it.
// The desk checks the agent holds the call before any of these.
type Media interface {
	// Status is where the call's audio stands; State "none" when the
	// call has no live audio here (a recorded call, or it ended).
	Status(callID string) MediaStatus
	// Join connects the agent's WebRTC offer to the call and returns the
	// SDP answer. A second Join replaces the agent's earlier leg.
	Join(ctx context.Context, callID, agent string, offer []byte) (string, error)
	// Hangup ends the call for the caller too.
	Hangup(ctx context.Context, callID, agent string) error
	// Subscribe signals every change of status.
	Subscribe() (<-chan struct{}, func())
	// Elsewhere returns a handler that passes the request on to the node
	// holding the call's audio, or nil when that is this node or unknown.
	Elsewhere(ctx context.Context, callID string, r *http.Request) http.Handler
}

// MediaStatus is one call's audio on the desk.
type MediaStatus struct {
	State string    `json:"state"`           // none, holding, bridged
	Mode  string    `json:"mode,omitempty"`  // forward or transcode, when bridged
	Agent string    `json:"agent,omitempty"` // whose leg is bridged
	Since time.Time `json:"since,omitzero"`  // when the state began
	// Keys the caller pressed while talking to the agent, the latest
	// last (at most MaxMediaKeys).
	Keys string `json:"keys,omitempty"`
}

// MaxMediaKeys bounds MediaStatus.Keys: enough for an order or device
// number keyed in.
const MaxMediaKeys = 32

// MediaNone is the status of a call without live audio.
const MediaNone = "none"

// ErrNoMedia means the call has no live audio on this node.
var ErrNoMedia = errors.New("desk: the call has no live audio")

func (d *Desk) mediaStatus(w http.ResponseWriter, r *http.Request, agent string) {
	id := r.PathValue("id")
	if err := d.eng.CheckAccepted(r.Context(), agent, id); err != nil {
		d.fail(w, r, err)
		return
	}
	st := MediaStatus{State: MediaNone}
	if d.media != nil {
		st = d.media.Status(id)
	}
	writeJSON(w, http.StatusOK, st)
}

// mediaCall is the call of a request that acts on its audio, once the
// agent is known to hold it and the audio is on this node; otherwise the
// request is answered (refused, or passed to the node holding the call)
// and ok is false.
func (d *Desk) mediaCall(w http.ResponseWriter, r *http.Request, agent string) (id string, ok bool) {
	id = r.PathValue("id")
	if err := d.eng.CheckAccepted(r.Context(), agent, id); err != nil {
		d.fail(w, r, err)
		return id, false
	}
	if d.media == nil {
		d.fail(w, r, fmt.Errorf("%w: live calls are not served here", ErrNoMedia))
		return id, false
	}
	if h := d.media.Elsewhere(r.Context(), id, r); h != nil {
		h.ServeHTTP(w, r)
		return id, false
	}
	return id, true
}

// mediaJoin takes the agent's SDP offer (WHIP style: application/sdp in,
// 201 and the answer out).
func (d *Desk) mediaJoin(w http.ResponseWriter, r *http.Request, agent string) {
	id, ok := d.mediaCall(w, r, agent)
	if !ok {
		return
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/sdp" {
		d.fail(w, r, fmt.Errorf("%w: got %q", webrtc.ErrContentType, r.Header.Get("Content-Type")))
		return
	}
	offer, err := io.ReadAll(io.LimitReader(r.Body, webrtc.MaxOfferBytes+1))
	if err != nil {
		d.fail(w, r, fmt.Errorf("%w: reading the offer: %w", webrtc.ErrMalformedSDP, err))
		return
	}
	answer, err := d.media.Join(r.Context(), id, agent, offer)
	if err != nil {
		d.log.Info("agent audio refused", "call_id", id, "agent", agent, "err", err)
		d.fail(w, r, err)
		return
	}
	d.log.Info("agent audio joined", "call_id", id, "agent", agent)
	w.Header().Set("Content-Type", "application/sdp")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusCreated)
	_, _ = io.WriteString(w, answer)
}

func (d *Desk) mediaHangup(w http.ResponseWriter, r *http.Request, agent string) {
	id, ok := d.mediaCall(w, r, agent)
	if !ok {
		return
	}
	if err := d.media.Hangup(r.Context(), id, agent); err != nil {
		d.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "hung up"})
}
