// Command gen writes the synthetic cascade dataset testdata/cascade/arith.jsonl:
// arithmetic word problems with simulated cheap answers (see
// bench.WriteArith for the simulation). Run from the module root:
//
//	go run ./internal/bench/gen
//
// The output is deterministic: TestArithDatasetReproducible checks the
// committed file against it.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"

	"github.com/baarcore/baar/internal/bench"
)

func main() {
	out := flag.String("out", bench.ArithPath, "the file to write")
	n := flag.Int("n", bench.ArithN, "problems")
	seed := flag.Uint64("seed", bench.ArithSeed, "the simulation's seed")
	flag.Parse()
	if err := write(*out, *seed, *n); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func write(path string, seed uint64, n int) error {
	count, err := bench.CL100K()
	if err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	if err := bench.WriteArith(w, seed, n, count); err != nil {
		f.Close()
		return err
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
