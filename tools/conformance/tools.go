//go:build tools

// Package tools anchors the upstream conformance package, whose test binary `gatesim upstream`
// builds with `go test -c`, so that its requirements stay in go.mod.
package tools

import _ "sigs.k8s.io/gateway-api/conformance"
