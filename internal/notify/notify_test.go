package notify

import "testing"

func TestHub(t *testing.T) {
	var h Hub
	a, stopA := h.Subscribe()
	b, stopB := h.Subscribe()
	h.Publish()
	h.Publish() // coalesced with the first
	for _, ch := range []<-chan struct{}{a, b} {
		select {
		case <-ch:
		default:
			t.Fatal("no signal")
		}
		select {
		case <-ch:
			t.Fatal("signals not coalesced")
		default:
		}
	}
	stopB()
	h.Publish()
	select {
	case <-b:
		t.Fatal("signal after stop")
	default:
	}
	<-a
	stopA()
}
