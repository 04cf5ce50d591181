// Package routing embeds the default routing configuration.
package routing

import _ "embed"

// Default is default.yaml.
//
//go:embed default.yaml
var Default []byte

// DefaultName names the embedded file in error messages.
const DefaultName = "data/routing/default.yaml"
