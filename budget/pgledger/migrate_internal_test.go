package pgledger

import "testing"

// The embedded migrations are numbered 1 … SchemaVersion, one per version.
func TestMigrationsSequence(t *testing.T) {
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != SchemaVersion {
		t.Fatalf("%d migrations embedded, SchemaVersion is %d", len(ms), SchemaVersion)
	}
	for i, m := range ms {
		if m.version != i+1 || m.sql == "" {
			t.Errorf("migration %d has version %d, %d bytes", i, m.version, len(m.sql))
		}
	}
}

func TestExpandQuotes(t *testing.T) {
	got := expand("CREATE SCHEMA {{schema}}; SELECT nextval({{sequence}})", `a"b'c`)
	want := `CREATE SCHEMA "a""b'c"; SELECT nextval('"a""b''c"."reservation_id"')`
	if got != want {
		t.Errorf("expand = %s, want %s", got, want)
	}
}
