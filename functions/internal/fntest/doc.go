// Package fntest runs a Function in-process the way `stashflow fn` does —
// flags parsed, Validate, Run — for the Function packages' tests, with the
// Function's log lines sent to the test's log.
package fntest
