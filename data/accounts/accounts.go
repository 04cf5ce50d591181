// Package accounts embeds the demo accounts directory, so that a fresh
// installation can verify callers end to end with no data of its own.
package accounts

import _ "embed"

// Demo is demo.yaml: twenty invented customers with registered numbers,
// devices, orders and service history.
//
//go:embed demo.yaml
var Demo []byte

// DemoName names the embedded file in error messages.
const DemoName = "data/accounts/demo.yaml"
