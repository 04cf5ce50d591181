package handoff

import (
	"github.com/callbrief/callbrief/call"
	"github.com/callbrief/callbrief/data/taxonomy"
	"github.com/callbrief/callbrief/verify/accounts"
)

// Ticket is a suggested electronic service ticket, filled in from what was
// heard and found, for the agent to confirm. A hardware fault becomes a
// repair ticket for the nearest service point.
type Ticket struct {
	Type    string `json:"type"`    // repair, data_recovery, unlock, order_enquiry, ...
	Product string `json:"product"` // device model when known, else the product line
	// ProductName and ProductNameZH name the product line for the desk
	// when Product is one (the taxonomy's names).
	ProductName   string            `json:"product_name,omitempty"`
	ProductNameZH string            `json:"product_name_zh,omitempty"`
	Fields        map[string]string `json:"fields"`
	// Missing lists fields the agent must still ask for.
	Missing []string `json:"missing,omitempty"`
}

// suggestTicket fills a ticket from slots first (what the caller said),
// then from the verified account (what is on file). Unverified callers'
// account data never fills a ticket.
func suggestTicket(req Request, productLine string, kind *taxonomy.Ticket) *Ticket {
	if kind == nil {
		return nil
	}
	t := &Ticket{Type: kind.Kind, Product: productLine, Fields: map[string]string{}}
	for _, s := range req.Slots {
		switch s.Kind {
		case call.SlotDeviceModel:
			t.Fields["device_model"] = s.Value
		case call.SlotIMEI:
			t.Fields["imei"] = s.Value
		case call.SlotOrderNumber:
			t.Fields["order_number"] = s.Value
		case call.SlotSerialNumber:
			t.Fields["serial"] = s.Value
		case call.SlotDate:
			t.Fields["date"] = s.Value
		}
	}
	if txt := req.Transcript.Text(); txt != "" {
		t.Fields["fault"] = quote(txt)
	}
	if a := req.Account; mayShowAccount(req) {
		if d, ok := pickDevice(a, t.Fields["device_model"]); ok {
			setIfEmpty(t.Fields, "device_model", d.Model)
			setIfEmpty(t.Fields, "imei", d.IMEI)
			setIfEmpty(t.Fields, "serial", d.Serial)
			setIfEmpty(t.Fields, "purchased", d.Purchased)
		}
		if len(a.Orders) > 0 {
			setIfEmpty(t.Fields, "order_number", a.Orders[0].Number)
		}
		for _, s := range a.Service {
			if s.Ticket != "" {
				setIfEmpty(t.Fields, "ticket", s.Ticket)
				break
			}
		}
		t.Fields["account_id"] = a.ID
	}
	if m := t.Fields["device_model"]; m != "" {
		t.Product = m
	}
	for _, f := range kind.Fields {
		if t.Fields[f] == "" {
			t.Missing = append(t.Missing, f)
		}
	}
	return t
}

// pickDevice prefers the device the caller named, else the only or the
// first phone on file.
func pickDevice(a *accounts.Account, named string) (accounts.Device, bool) {
	if len(a.Devices) == 0 {
		return accounts.Device{}, false
	}
	for _, d := range a.Devices {
		if named != "" && d.Model == named {
			return d, true
		}
	}
	if named != "" {
		return accounts.Device{}, false
	}
	for _, d := range a.Devices {
		if d.IMEI != "" {
			return d, true
		}
	}
	return a.Devices[0], true
}

func setIfEmpty(m map[string]string, k, v string) {
	if m[k] == "" && v != "" {
		m[k] = v
	}
}
