// Package outputs is the contract between Function steps and everything that
// reads what they did: the output parameter names, the directory a step
// writes them into and the environment variable that moves it, the JSON
// shape of the structured outputs, and the rule that derives a step's role
// (backup, restore, retention, integrity check) from the outputs its
// Function declares.
//
// It is a leaf: Functions, engines, translators, controllers, the CLI and
// the UI import it, and it imports only the standard library.
package outputs
