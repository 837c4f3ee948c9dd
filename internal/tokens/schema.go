package tokens

import (
	"encoding/json"
	"reflect"
	"sync"
	"unicode/utf8"
	"unsafe"

	"github.com/tmc/langchaingo/jsonschema"
)

const (
	// maxSchemaDepth bounds the walk of a tool's parameters; deeper values
	// are marshalled instead.
	maxSchemaDepth = 64
	// unmarshalableSchemaBytes is charged for parameters json.Marshal
	// rejects (the provider will fail to send them too).
	unmarshalableSchemaBytes = 16 << 10
	// numberBytes bounds the JSON length of any number.
	numberBytes = 24
	// schemaCacheCap bounds the identity cache of marshalled sizes.
	schemaCacheCap = 1024
)

// schemaBytes returns an upper bound on the length of v marshalled to JSON,
// the form in which every provider sends a tool's parameters. The common
// dynamic types (map[string]any, []any, strings, numbers,
// jsonschema.Definition, json.RawMessage) are measured by a walk that does
// not allocate; anything else is marshalled once and its size cached by
// identity (see schemaCache).
func (c *Counter) schemaBytes(v any) int64 {
	switch n, st := jsonSize(v, 0); st {
	case sizeOK:
		return n
	case sizeTooDeep:
		// Possibly a cycle, on which json.Marshal could recurse forever
		// through a MarshalJSON method: do not marshal.
		return unmarshalableSchemaBytes
	}
	return c.schemas.size(v)
}

type sizeStatus uint8

const (
	sizeOK sizeStatus = iota
	sizeUnknownType
	sizeTooDeep
)

// jsonSize bounds the marshalled size of v; the status says whether it
// could.
func jsonSize(v any, depth int) (int64, sizeStatus) {
	if depth > maxSchemaDepth {
		return 0, sizeTooDeep
	}
	switch x := v.(type) {
	case nil:
		return 4, sizeOK
	case string:
		return jsonStringSize(x), sizeOK
	case bool:
		return 5, sizeOK
	case float64, float32, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, json.Number:
		if n, ok := x.(json.Number); ok && len(n) > numberBytes {
			return int64(len(n)), sizeOK
		}
		return numberBytes, sizeOK
	case json.RawMessage:
		if x == nil {
			return 4, sizeOK
		}
		return int64(len(x)), sizeOK
	case map[string]any:
		return objectSize(x, depth)
	case map[string]string:
		return stringMapSize(x), sizeOK
	case []any:
		return arraySize(x, depth)
	case []string:
		return stringsSize(x), sizeOK
	case []map[string]any:
		return arraySize(x, depth)
	case jsonschema.Definition:
		return definitionSize(&x, depth)
	case *jsonschema.Definition:
		if x == nil {
			return 4, sizeOK
		}
		return definitionSize(x, depth)
	}
	return 0, sizeUnknownType
}

// objectSize bounds the JSON object m, whose values nest at depth+1.
func objectSize(m map[string]any, depth int) (int64, sizeStatus) {
	if m == nil {
		return 4, sizeOK // null
	}
	n := int64(2)
	for k, e := range m {
		s, st := jsonSize(e, depth+1)
		if st != sizeOK {
			return 0, st
		}
		n += jsonStringSize(k) + 2 + s
	}
	return n, sizeOK
}

// stringMapSize is the size of the JSON object m.
func stringMapSize(m map[string]string) int64 {
	if m == nil {
		return 4 // null
	}
	n := int64(2)
	for k, e := range m {
		n += jsonStringSize(k) + 2 + jsonStringSize(e)
	}
	return n
}

// arraySize bounds the JSON array a, whose elements nest at depth+1.
func arraySize[E any](a []E, depth int) (int64, sizeStatus) {
	if a == nil {
		return 4, sizeOK // null
	}
	n := int64(2)
	for _, e := range a {
		s, st := jsonSize(e, depth+1)
		if st != sizeOK {
			return 0, st
		}
		n += s + 1
	}
	return n, sizeOK
}

// stringsSize is the size of the JSON array a.
func stringsSize(a []string) int64 {
	if a == nil {
		return 4 // null
	}
	n := int64(2)
	for _, e := range a {
		n += jsonStringSize(e) + 1
	}
	return n
}

// definitionSize bounds the JSON of langchaingo's jsonschema.Definition
// (jsonschema/json.go): {"type":…,"description":…,"enum":[…],
// "properties":{…},"required":[…],"items":{…}}, every field present.
func definitionSize(d *jsonschema.Definition, depth int) (int64, sizeStatus) {
	if depth > maxSchemaDepth {
		return 0, sizeTooDeep
	}
	n := int64(len(`{"type":,"description":,"enum":,"properties":{},"required":,"items":}`))
	n += jsonStringSize(string(d.Type)) + jsonStringSize(d.Description)
	e, _ := jsonSize(d.Enum, depth+1)
	r, _ := jsonSize(d.Required, depth+1)
	n += e + r
	for k, p := range d.Properties {
		s, st := definitionSize(&p, depth+1)
		if st != sizeOK {
			return 0, st
		}
		n += jsonStringSize(k) + 2 + s
	}
	if d.Items != nil {
		s, st := definitionSize(d.Items, depth+1)
		if st != sizeOK {
			return 0, st
		}
		n += s
	}
	return n, sizeOK
}

// jsonStringSize bounds the length of s as a JSON string the way
// encoding/json writes it: quotes, \u00XX for control characters and the
// HTML-sensitive <, > and &, two bytes for \" and \\, and \ufffd (six bytes)
// for each invalid byte. It does not allocate.
func jsonStringSize(s string) int64 {
	n := int64(len(s)) + 2
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c < 0x20, c == '<', c == '>', c == '&':
				n += 5
			case c == '"', c == '\\':
				n++
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			n += 5
		} else if r == '\u2028' || r == '\u2029' {
			n += 3
		}
		i += size
	}
	return n
}

// schemaCache caches the marshalled size of parameters of types jsonSize does
// not walk, keyed by identity: the dynamic type and the pointer of a pointer,
// map or slice (with its length). The key holds the pointer, so the value
// stays alive and its address cannot be reused by another value while
// cached. A value mutated in place after its first use keeps its old size:
// parameters are assumed immutable once passed, as the jsonSize types need
// not be. Values of other kinds (structs, arrays) are marshalled every time.
type schemaCache struct {
	mu sync.Mutex
	m  map[schemaKey]int64
}

type schemaKey struct {
	typ reflect.Type
	ptr unsafe.Pointer // identity; also keeps the value alive
	n   int
}

func (sc *schemaCache) size(v any) int64 {
	rv := reflect.ValueOf(v)
	var key schemaKey
	cacheable := false
	switch rv.Kind() {
	case reflect.Pointer, reflect.Map, reflect.UnsafePointer:
		if rv.IsNil() {
			return 4
		}
		key, cacheable = schemaKey{typ: rv.Type(), ptr: rv.UnsafePointer()}, true
	case reflect.Slice:
		if rv.IsNil() {
			return 4
		}
		key, cacheable = schemaKey{typ: rv.Type(), ptr: rv.UnsafePointer(), n: rv.Len()}, true
	}
	if cacheable {
		sc.mu.Lock()
		n, ok := sc.m[key]
		sc.mu.Unlock()
		if ok {
			return n
		}
	}
	n := marshalledSize(v)
	if cacheable {
		sc.mu.Lock()
		if sc.m == nil || len(sc.m) >= schemaCacheCap {
			sc.m = make(map[schemaKey]int64)
		}
		sc.m[key] = n
		sc.mu.Unlock()
	}
	return n
}

func marshalledSize(v any) (n int64) {
	defer func() {
		if recover() != nil { // a MarshalJSON method may panic
			n = unmarshalableSchemaBytes
		}
	}()
	b, err := json.Marshal(v)
	if err != nil {
		return unmarshalableSchemaBytes
	}
	return int64(len(b))
}
