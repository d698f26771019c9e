// Package examples holds no code: its tests load every example manifest
// strictly and run the runnable ones on the local engine, so the examples
// in the docs cannot rot.
package examples
