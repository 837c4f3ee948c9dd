package budget

import (
	"fmt"
	"math"
	"strconv"
)

// Amount is an amount of money in nano-dollars (1e-9 USD). The zero value is $0.
type Amount int64

// Common amounts.
const (
	NanoDollar  Amount = 1
	MicroDollar Amount = 1_000
	Cent        Amount = 10_000_000
	Dollar      Amount = 1_000_000_000
	// MaxAmount is the largest amount a ledger accepts as a limit (about $9.2 billion).
	MaxAmount Amount = 1<<63 - 1
)

// nanoPerDollar is the number of nano-dollars in one dollar.
const nanoPerDollar = int64(Dollar)

// FromUSD converts a float64 number of US dollars to an Amount, rounded to the
// nearest nano-dollar. It returns an error matching [ErrInvalid], naming the
// value, for NaN, ±Inf, negative values and values above [MaxAmount].
//
// The integer dollars and the fraction are converted separately, so every
// float64 below MaxAmount converts to the nano-dollar nearest its exact value.
func FromUSD(usd float64) (Amount, error) {
	switch {
	case math.IsNaN(usd):
		return 0, fmt.Errorf("%w: USD amount is NaN", ErrInvalid)
	case math.IsInf(usd, 0):
		return 0, fmt.Errorf("%w: USD amount %v is infinite", ErrInvalid, usd)
	case usd < 0:
		return 0, fmt.Errorf("%w: USD amount %v is negative", ErrInvalid, usd)
	}
	n, ok := usdToNano(usd)
	if !ok {
		return 0, fmt.Errorf("%w: USD amount %v is above the maximum %v", ErrInvalid, usd, MaxAmount)
	}
	return Amount(n), nil
}

// maxWholeDollars is the largest whole number of dollars an Amount holds.
const maxWholeDollars = int64(MaxAmount) / nanoPerDollar

// usdToNano converts a finite, non-negative usd to nano-dollars, rounded to
// the nearest; ok is false when the result exceeds MaxAmount.
func usdToNano(usd float64) (n int64, ok bool) {
	if usd >= float64(maxWholeDollars+1) { // exact: 9223372037 is a float64
		return 0, false
	}
	w := int64(usd)                                                     // truncation, exact
	f := int64(math.Round((usd - float64(w)) * float64(nanoPerDollar))) // the fraction is exact; 0..1e9
	if w == maxWholeDollars && f > int64(MaxAmount)-w*nanoPerDollar {
		return 0, false
	}
	return w*nanoPerDollar + f, true
}

// USD returns a as a float64 number of dollars (exact up to 2^53 nano-dollars,
// about $9 million; the nearest float64 beyond).
func (a Amount) USD() float64 {
	return float64(a/Dollar) + float64(a%Dollar)/float64(nanoPerDollar)
}

// String formats a as dollars with as many decimals as needed to be exact to
// the nano-dollar, but at least two: "$0.10", "$0.012345", "$0.000000125",
// "-$1.50".
func (a Amount) String() string {
	var buf [32]byte
	return string(a.appendString(buf[:0]))
}

// appendString appends a.String() to b.
func (a Amount) appendString(b []byte) []byte {
	mag := uint64(a)
	if a < 0 {
		b = append(b, '-')
		mag = -mag // two's complement: exact for math.MinInt64 too
	}
	b = append(b, '$')
	b = strconv.AppendUint(b, mag/uint64(nanoPerDollar), 10)
	frac := mag % uint64(nanoPerDollar)
	var digits [9]byte
	for i := len(digits) - 1; i >= 0; i-- {
		digits[i] = byte('0' + frac%10)
		frac /= 10
	}
	n := len(digits)
	for n > 2 && digits[n-1] == '0' {
		n--
	}
	b = append(b, '.')
	return append(b, digits[:n]...)
}
