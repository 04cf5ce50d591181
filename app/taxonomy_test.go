package app

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/callbrief/callbrief/call"
	"github.com/callbrief/callbrief/config"
	"github.com/callbrief/callbrief/data/taxonomy"
	"github.com/callbrief/callbrief/handoff"
	"github.com/callbrief/callbrief/handoff/kb"
)

// newIntent is one taxonomy entry an operator adds: its product line,
// skill group, verification policy, ticket and KB product all in one place.
const newIntent = `
  - id: store_services
    name: In-store services
    name_zh: 门店服务
    kb_product: accessory
    intents:
      - id: screen_protector_fit
        name_zh: 门店贴膜
        description: Fitting or replacing a screen protector at a service point, and what it costs.
        skill: orders
        policy: accessory_purchase
        ticket: {kind: store_appointment, fields: [device_model, store]}
`

var newUtterances = []string{
	"cmn\t我想去门店贴个膜", "cmn\t你们门店可以帮忙贴钢化膜吗", "cmn\t贴膜要多少钱", "cmn\t屏幕膜翘边了能去店里重新贴吗",
	"cmn\t门店贴膜需要预约吗", "cmn\t新手机想找你们贴一张膜", "cmn\t钢化膜碎了想去店里换一张", "cmn\t店里贴膜是免费的吗",
	"yue\t我想去門店貼返張芒", "yue\t你哋間舖頭幫唔幫人貼膜", "yue\t貼一張膜要幾錢呀",
	"en\tcan I get a screen protector fitted at your store", "en\thow much does it cost to have a screen protector put on",
	"en\tmy screen protector is peeling can the store replace it", "en\tdo I need an appointment to get a screen protector applied",
	"en\tI want someone at the service centre to fit a glass protector",
}

// TestAddIntentFromFiles: adding an intent is one taxonomy entry plus its
// utterances and articles. Built from temporary files through the
// composition root, the new intent is understood, routed to its skill's
// group, verified by its policy, ticketed, and an article answering it is
// accepted; the embedded taxonomy, which lacks it, refuses that article.
func TestAddIntentFromFiles(t *testing.T) {
	dir := t.TempDir()
	base, err := taxonomy.File("taxonomy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	train, err := taxonomy.File("train.tsv")
	if err != nil {
		t.Fatal(err)
	}
	taxPath, uttPath := filepath.Join(dir, "taxonomy.yaml"), filepath.Join(dir, "train.tsv")
	if err := os.WriteFile(taxPath, append(base, newIntent...), 0o600); err != nil {
		t.Fatal(err)
	}
	var add strings.Builder
	for _, u := range newUtterances {
		add.WriteString("screen_protector_fit\t" + u + "\n")
	}
	if err := os.WriteFile(uttPath, append(append(train, '\n'), add.String()...), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Files.Taxonomy, cfg.Files.Utterances = taxPath, uttPath
	ctx := context.Background()

	under, err := Understanding(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	d, err := LoadData(cfg, under.Taxonomy)
	if err != nil {
		t.Fatal(err)
	}
	for _, said := range []string{"我新买的手机想去你们店里贴张钢化膜", "could your store fit a new screen protector on my phone"} {
		u, err := under.Understand(ctx, said, "")
		if err != nil {
			t.Fatal(err)
		}
		if u.Intent.Intent != "screen_protector_fit" || u.Policy != "accessory_purchase" {
			t.Errorf("%q understood as %s (policy %q), want screen_protector_fit by accessory_purchase", said, u.Intent.Intent, u.Policy)
		}
	}
	dec := d.Router.Route(handoff.Request{CallID: call.NewID(time.Now()), Intent: call.IntentResult{Intent: "screen_protector_fit", Confidence: 0.9},
		Language: call.LanguageResult{Language: call.LangMandarin}})
	if dec.Group != "orders" {
		t.Errorf("routed to %q, want orders (the intent's skill)", dec.Group)
	}
	in, _ := under.Taxonomy.Lookup("screen_protector_fit")
	if in.Ticket == nil || in.Ticket.Kind != "store_appointment" || in.KBProduct != "accessory" {
		t.Errorf("taxonomy entry %+v", in)
	}
	art := []kb.Article{{ID: "zh-store-001", Source: "store/zh-store-001.md:1", Product: "accessory", Intents: []string{"screen_protector_fit"}}}
	if err := CheckArticles(under.Taxonomy, art); err != nil {
		t.Errorf("article for the new intent refused: %v", err)
	}
	embedded, err := taxonomy.Load()
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckArticles(embedded, art); err == nil {
		t.Error("the embedded taxonomy accepted an article for an intent it lacks")
	}

	// A taxonomy naming a policy the verification policy lacks is refused
	// at start, naming the intent and the value.
	bad := strings.Replace(string(base)+newIntent, "policy: accessory_purchase\n        ticket: {kind: store", "policy: acessory_purchase\n        ticket: {kind: store", 1)
	if err := os.WriteFile(taxPath, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	tax, err := Taxonomy(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := LoadData(cfg, tax); err == nil || !strings.Contains(err.Error(), `"acessory_purchase"`) {
		t.Errorf("misspelt policy: err = %v", err)
	}
}
