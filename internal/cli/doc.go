// Package cli holds what the module's commands (cmd/baar-bench, baar-train,
// baar-stress, baar-telemetry) share: finding the module's source tree.
package cli
