//go:build stashflow_lean

package functions

// heavyBuiltins: none in the lean build (HeavyNames).
func heavyBuiltins() []builtin { return nil }
