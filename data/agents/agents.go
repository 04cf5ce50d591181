// Package agents embeds the demo agents of the desk.
package agents

import _ "embed"

// Demo is demo.yaml.
//
//go:embed demo.yaml
var Demo []byte

// DemoName names the embedded file in error messages.
const DemoName = "data/agents/demo.yaml"
