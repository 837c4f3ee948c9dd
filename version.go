package baar

// ScopeName is the instrumentation scope of the Router's spans and metrics:
// the module's import path.
const ScopeName = "github.com/baarcore/baar"

// Version is the version of this module, reported as the instrumentation
// scope's version. It follows semantic versioning.
const Version = "0.1.0"
