package handoff

import (
	"context"
	"fmt"
)

// Deliveries of a brief whose call goes to the contact centre's own ACD
// (by a SIP transfer) rather than to the desk.
const (
	// DeliveryTransfer: the brief is stored, the transfer under way; the
	// call is in no desk queue.
	DeliveryTransfer = "transferring to the contact centre"
	// DeliveryTransferred: the contact centre's ACD took the call; its
	// agent opens this brief from the URL the call carried.
	DeliveryTransferred = "transferred to the contact centre"
)

// HandoffOrTransfer is Handoff for a call that may be transferred to the
// contact centre's ACD: when transfer says so for the call's skill group
// the brief is stored but the call is not queued (Brief.Delivery is
// DeliveryTransfer), and Transferred or TransferFailed must follow. A
// brief the store could not take is kept as Handoff keeps it (and will be
// queued for the desk): its Delivery says so, and no transfer should be
// tried.
func (e *Engine) HandoffOrTransfer(ctx context.Context, req Request, transfer func(group string) bool) (Brief, error) {
	return e.handoff(ctx, req, transfer)
}

// Transferred records that the contact centre took the call (to names
// where, for the agent who opens the brief later).
func (e *Engine) Transferred(ctx context.Context, callID, to string) error {
	b, err := e.Brief(ctx, callID)
	if err != nil {
		return err
	}
	b.Delivery = DeliveryTransferred
	b.Reason = fmt.Sprintf("%s (transferred to %s)", b.Reason, to)
	if err := e.saveBrief(ctx, b); err != nil {
		return err
	}
	e.cfg.Log.Info("call transferred to the contact centre", "call_id", callID, "to", to)
	return nil
}

// TransferFailed records why the transfer to the contact centre did not
// happen on the brief and queues the call for the desk, as Handoff would
// have: the caller is still on our line.
func (e *Engine) TransferFailed(ctx context.Context, callID, why string) error {
	b, err := e.Brief(ctx, callID)
	if err != nil {
		return err
	}
	b.Delivery = ""
	b.Reason = fmt.Sprintf("%s (transfer to the contact centre failed: %s; handed to the desk)", b.Reason, why)
	if err := e.saveBrief(ctx, b); err != nil {
		return err
	}
	if err := e.cfg.Queue.Enqueue(ctx, b.Route.Entry(b.CallID, b.CreatedAt)); err != nil {
		return unavailable(err)
	}
	e.cfg.Log.Info("transfer failed; call queued for the desk", "call_id", callID, "group", b.Route.Group, "why", why)
	if err := e.Dispatch(ctx); err != nil {
		e.cfg.Log.Warn("dispatch failed; the call waits for an agent to take it", "call_id", callID, "err", err)
	}
	e.changed(ctx, Change{Calls: []string{callID}})
	return nil
}

// Note adds a remark to a call's brief for the agent (why the call came
// to the desk rather than where its group's calls usually go).
func (e *Engine) Note(ctx context.Context, callID, note string) error {
	b, err := e.Brief(ctx, callID)
	if err != nil {
		return err
	}
	b.Reason = fmt.Sprintf("%s (%s)", b.Reason, note)
	if err := e.saveBrief(ctx, b); err != nil {
		return err
	}
	e.changed(ctx, Change{Calls: []string{callID}})
	return nil
}
