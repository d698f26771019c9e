// Package functions is the Function step runtime: a Registry of Function
// factories, built explicitly (New, Builtin) rather than filled by init()
// side effects, and Execute, which runs one Function the way `stashflow fn`
// does — Validate first, then Run, then the outputs written as files.
//
// The shape follows Kanister's pkg/kanister.go (a registry of named
// functions) without its pitfalls: arguments are typed flags with Validate
// instead of a map[string]any, every run gets a fresh instance from a factory
// instead of a shared mutable one, duplicate names are an error, and reads are
// locked like writes. There is no package-level registry: cmd/stashflow builds
// one with Builtin.
//
// The contract types (Function, Env, Outputs) live in the leaf package
// functions/step so that the built-in Functions can implement them while this
// package imports those Functions; they are re-exported here.
package functions
