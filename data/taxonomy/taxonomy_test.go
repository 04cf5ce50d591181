package taxonomy

import "testing"

func TestKBProductFor(t *testing.T) {
	tax, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	get := func(id string) Intent {
		in, ok := tax.Lookup(id)
		if !ok {
			t.Fatalf("no intent %s", id)
		}
		return in
	}
	for _, c := range []struct{ intent, text, want string }{
		{"hardware_fault", "my phone screen is cracked", "phone"},
		{"hardware_fault", "屏幕碎了", "phone"},
		{"hardware_fault", "家里的摄像头坏了", "smart_home"},               // the caller names another product than the line's
		{"hardware_fault", "it broke", "phone"},                    // nothing named: the intent's product line
		{"wearable_sync", "手表连不上手机", "wearable"},                   // the intent's own product wins a tie
		{"accessory_purchase", "想买个手机壳", "accessory"},              // the longest word: a phone case is an accessory
		{"order_status", "where is my order", ""},                  // no product line narrowing for orders
		{"smart_home_setup", "how do I activate it", "smart_home"}, // "tv" inside "activate" is not a word
	} {
		if got := tax.KBProductFor(get(c.intent), c.text); got != c.want {
			t.Errorf("KBProductFor(%s, %q) = %q, want %q", c.intent, c.text, got, c.want)
		}
	}
}

func TestParseRefusesUnknownKBProduct(t *testing.T) {
	_, err := Parse([]byte(`version: 1
kb_products: [{id: phone}]
product_lines:
  - id: x
    kb_product: phones
    intents: [{id: a, skill: s}]
`))
	if err == nil {
		t.Fatal("a product line naming an unknown kb_product was accepted")
	}
}
