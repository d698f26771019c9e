// Command stashflow-guard runs one local-engine step under the step guard
// (internal/deathsig.Guard): `stashflow-guard -- CMD ARGS...`. It is its own
// small binary because a guard starts with every step: the stashflow binary
// spends ≈ 80 ms initialising its packages before main, this one ≈ 1 ms.
// `stashflow __step-guard` does the same, slowly, where this binary is
// missing.
package main

import (
	"os"

	"github.com/stashflow/stashflow/internal/deathsig"
)

func main() {
	os.Exit(deathsig.Guard(os.Args[1:]))
}
