// Package cli holds what the module's commands (cmd/baar-bench, baar-train,
// baar-stress, baar-telemetry) share, so that they behave alike: a flag set
// that reports instead of exiting, exit statuses (0 success or --help, 1
// failure, 2 usage error), one "command: " prefix on the error printed,
// validation of flag values before any work starts, and finding the
// module's source tree.
package cli
