package baartest

import (
	"math"
	"regexp"
	"strconv"
	"strings"
)

// The simulator computes simple arithmetic written in a prompt: a chain of
// non-negative decimal numbers joined by + - * / (or ×, ÷, x), with the
// usual precedence and no parentheses, such as "12 + 30", "17 * 24" or
// "36 / 7".

// arithExpr matches such a chain. A number glued to letters on either side
// ("3pm", "km2") is not one.
var arithExpr = regexp.MustCompile(`(?:^|[^\w.])(\d+(?:\.\d+)?(?:\s*[-+*/×÷x]\s*\d+(?:\.\d+)?)+)(?:[^\w]|$)`)

// arithEquation matches "expression = value".
var arithEquation = regexp.MustCompile(`(\d+(?:\.\d+)?(?:\s*[-+*/×÷x]\s*\d+(?:\.\d+)?)+)\s*=\s*(-?\d+(?:\.\d+)?)`)

// findArithmetic returns the first arithmetic expression of text that can be
// computed, its value written as the simulator writes numbers, and whether
// one was found.
func findArithmetic(text string) (expr, value string, ok bool) {
	for _, m := range arithExpr.FindAllStringSubmatch(text, -1) {
		if v, ok := evalArithmetic(m[1]); ok {
			return strings.TrimSpace(m[1]), formatValue(v), true
		}
	}
	return "", "", false
}

// trueEquation returns the last equation "expression = value" of text that
// holds (its value as written), and whether there is one.
func trueEquation(text string) (expr, value string, ok bool) {
	ms := arithEquation.FindAllStringSubmatch(text, -1)
	for i := len(ms) - 1; i >= 0; i-- {
		v, ok1 := evalArithmetic(ms[i][1])
		w, err := strconv.ParseFloat(ms[i][2], 64)
		if ok1 && err == nil && math.Abs(v-w) <= 1e-6*max(1, math.Abs(v)) {
			return ms[i][1], ms[i][2], true
		}
	}
	return "", "", false
}

// evalArithmetic computes an expression matched by arithExpr: products and
// quotients first, then sums and differences, left to right. It fails on a
// division by zero or a result that is not finite.
func evalArithmetic(expr string) (float64, bool) {
	var (
		sum, term float64
		sign      = 1.0
		op        = byte('+') // the operator before the current number
		termOp    byte        // pending * or / inside the term; 0 at its start
	)
	for i := 0; i < len(expr); {
		c := expr[i]
		switch {
		case c == ' ' || c == '\t':
			i++
		case c >= '0' && c <= '9':
			j := i
			for j < len(expr) && (expr[j] >= '0' && expr[j] <= '9' || expr[j] == '.') {
				j++
			}
			n, err := strconv.ParseFloat(expr[i:j], 64)
			if err != nil {
				return 0, false
			}
			switch termOp {
			case 0:
				term = n
			case '*':
				term *= n
			case '/':
				if n == 0 {
					return 0, false
				}
				term /= n
			}
			i = j
		default:
			o, size := arithOperator(expr[i:])
			if size == 0 {
				return 0, false
			}
			i += size
			if o == '*' || o == '/' {
				termOp = o
				continue
			}
			sum += sign * term
			op, termOp = o, 0
			sign = 1
			if op == '-' {
				sign = -1
			}
		}
	}
	sum += sign * term
	if math.IsNaN(sum) || math.IsInf(sum, 0) {
		return 0, false
	}
	return sum, true
}

// arithOperator reads the operator at the start of s: '+', '-', '*' or '/',
// and its length in bytes (0: none).
func arithOperator(s string) (byte, int) {
	switch {
	case s[0] == '+' || s[0] == '-' || s[0] == '*' || s[0] == '/':
		return s[0], 1
	case s[0] == 'x':
		return '*', 1
	case strings.HasPrefix(s, "×"):
		return '*', len("×")
	case strings.HasPrefix(s, "÷"):
		return '/', len("÷")
	}
	return 0, 0
}

// formatValue writes a computed value: an integer as such, else with up to
// six significant digits (as a calculator shows 36 / 7 = 5.14286).
func formatValue(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'g', 6, 64)
}
