package usage

import (
	"encoding/json"
	"math"
	"reflect"
	"strconv"
	"strings"
)

// countStatus is the outcome of reading one count.
type countStatus uint8

const (
	countOK countStatus = iota
	countAbsent
	countNegative
	countNonIntegral
	countTooLarge
	countNotNumber
)

func (s countStatus) String() string {
	switch s {
	case countOK:
		return "ok"
	case countAbsent:
		return "absent"
	case countNegative:
		return "negative value"
	case countNonIntegral:
		return "non-integral value"
	case countTooLarge:
		return "value above MaxTokens"
	default:
		return "not a number"
	}
}

// toCount converts a GenerationInfo value to a token count. The common types
// are matched without reflection; named numeric types and pointers fall back
// to reflection.
func toCount(v any) (int64, countStatus) {
	switch x := v.(type) {
	case int:
		return checkInt(int64(x))
	case int32:
		return checkInt(int64(x))
	case int64:
		return checkInt(x)
	case float64:
		return checkFloat(x)
	case int8:
		return checkInt(int64(x))
	case int16:
		return checkInt(int64(x))
	case uint:
		return checkUint(uint64(x))
	case uint8:
		return checkUint(uint64(x))
	case uint16:
		return checkUint(uint64(x))
	case uint32:
		return checkUint(uint64(x))
	case uint64:
		return checkUint(x)
	case uintptr:
		return checkUint(uint64(x))
	case float32:
		return checkFloat(float64(x))
	case json.Number:
		return parseNumber(string(x))
	case string:
		return parseNumber(x)
	case nil:
		return 0, countAbsent
	}
	rv := reflect.ValueOf(v)
	for rv.Kind() == reflect.Pointer || rv.Kind() == reflect.Interface {
		if rv.IsNil() {
			return 0, countAbsent
		}
		rv = rv.Elem()
	}
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return checkInt(rv.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return checkUint(rv.Uint())
	case reflect.Float32, reflect.Float64:
		return checkFloat(rv.Float())
	case reflect.String:
		return parseNumber(rv.String())
	}
	return 0, countNotNumber
}

func checkInt(n int64) (int64, countStatus) {
	switch {
	case n < 0:
		return 0, countNegative
	case n > MaxTokens:
		return 0, countTooLarge
	}
	return n, countOK
}

func checkUint(n uint64) (int64, countStatus) {
	if n > MaxTokens {
		return 0, countTooLarge
	}
	return int64(n), countOK
}

func checkFloat(f float64) (int64, countStatus) {
	switch {
	case math.IsNaN(f) || math.IsInf(f, 0):
		return 0, countNotNumber
	case f != math.Trunc(f):
		return 0, countNonIntegral
	case f < 0:
		return 0, countNegative
	case f > MaxTokens:
		return 0, countTooLarge
	}
	return int64(f), countOK
}

// parseNumber parses a json.Number or a decimal string: an integer, or a
// float with an integral value ("12", "12.0", "1.2e3").
func parseNumber(s string) (int64, countStatus) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, countNotNumber
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return checkInt(n)
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil && !isRangeError(err) {
		return 0, countNotNumber
	}
	return checkFloat(f)
}

func isRangeError(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

// usageKeys maps the field names and JSON names a usage struct may use to
// the canonical keys read by promptCompletion.
var usageKeys = map[string]string{
	"PromptTokens":      "PromptTokens",
	"prompt_tokens":     "PromptTokens",
	"CompletionTokens":  "CompletionTokens",
	"completion_tokens": "CompletionTokens",
	"TotalTokens":       "TotalTokens",
	"total_tokens":      "TotalTokens",
}

// subUsage turns the value under "usage" (mistral puts its sdk.UsageInfo
// struct there, mistralmodel.go:166-170 and :210) into a map with canonical
// keys. It accepts any struct (fields matched by name or by json tag), a
// pointer to one, or a map with string keys. Unknown keys are ignored.
func subUsage(v any) (map[string]any, string) {
	rv := reflect.ValueOf(v)
	for rv.Kind() == reflect.Pointer || rv.Kind() == reflect.Interface {
		if rv.IsNil() {
			return nil, ""
		}
		rv = rv.Elem()
	}
	if !rv.IsValid() {
		return nil, ""
	}
	out := make(map[string]any, 3)
	put := func(name string, val reflect.Value) string {
		k, ok := usageKeys[name]
		if !ok || !val.IsValid() || !val.CanInterface() {
			return ""
		}
		if _, dup := out[k]; dup {
			return "usage: duplicate " + k
		}
		out[k] = val.Interface()
		return ""
	}
	switch rv.Kind() {
	case reflect.Struct:
		t := rv.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name := f.Name
			if tag, ok := f.Tag.Lookup("json"); ok {
				if tn, _, _ := strings.Cut(tag, ","); tn != "" && tn != "-" {
					if _, known := usageKeys[tn]; known {
						name = tn
					}
				}
			}
			if p := put(name, rv.Field(i)); p != "" {
				return nil, p
			}
		}
	case reflect.Map:
		if rv.Type().Key().Kind() != reflect.String {
			return nil, "usage: map without string keys"
		}
		it := rv.MapRange()
		for it.Next() {
			if p := put(it.Key().String(), it.Value()); p != "" {
				return nil, p
			}
		}
	default:
		return nil, "usage: unsupported type " + rv.Type().String()
	}
	return out, ""
}
