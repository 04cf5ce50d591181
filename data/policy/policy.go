// Package policy embeds the default verification policy.
package policy

import _ "embed"

// Default is default.yaml.
//
//go:embed default.yaml
var Default []byte

// DefaultName names the embedded file in error messages.
const DefaultName = "data/policy/default.yaml"
