package pgledger

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/baarcore/baar/budget"
)

// SchemaVersion is the version of the schema this package creates
// ([Migrate]) and uses ([New]).
const SchemaVersion = 2

// ErrSchemaVersion is matched (errors.Is) by the *[SchemaError] of a schema
// that is not at [SchemaVersion].
var ErrSchemaVersion = errors.New("pgledger: schema version mismatch")

// SchemaError is the error of [New] for a schema that is not at
// [SchemaVersion] (not migrated yet, or migrated by a newer version of this
// package), and of [Migrate] for a schema from the future. It matches
// [ErrSchemaVersion].
type SchemaError struct {
	Schema  string // the schema's name
	Version int    // its version: 0 when it holds no ledger tables
}

// Error implements error.
func (e *SchemaError) Error() string {
	switch {
	case e.Version <= 0:
		return fmt.Sprintf("pgledger: schema %q holds no ledger tables: run pgledger.Migrate first", e.Schema)
	case e.Version < SchemaVersion:
		return fmt.Sprintf("pgledger: schema %q is at version %d, this package needs %d: run pgledger.Migrate", e.Schema, e.Version, SchemaVersion)
	}
	return fmt.Sprintf("pgledger: schema %q is at version %d, newer than the version %d this package knows: upgrade the package (a schema is never downgraded)", e.Schema, e.Version, SchemaVersion)
}

// Is reports whether target is [ErrSchemaVersion].
func (e *SchemaError) Is(target error) bool { return target == ErrSchemaVersion }

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migration is one embedded SQL file, migrations/NNNN_name.sql, that moves a
// schema from version NNNN-1 to NNNN.
type migration struct {
	version int
	sql     string
}

// migrations returns the embedded migrations in version order. Their
// versions are 1, 2, … SchemaVersion, checked by the tests.
func migrations() ([]migration, error) {
	names, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, name := range names { // fs.Glob sorts
		num, _, _ := strings.Cut(path.Base(name), "_")
		v, err := strconv.Atoi(num)
		if err != nil || v != len(ms)+1 {
			return nil, fmt.Errorf("pgledger: migration %s is out of sequence", name)
		}
		b, err := migrationFiles.ReadFile(name)
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, sql: string(b)})
	}
	return ms, nil
}

// dollarTag delimits the function bodies of the migrations; a schema name
// holding it is refused.
const dollarTag = "$pgledger$"

// checkSchema reports an error matching [budget.ErrInvalid] for a schema
// name PostgreSQL would truncate or cannot hold.
func checkSchema(schema string) error {
	switch {
	case schema == "" || len(schema) > 63:
		return fmt.Errorf("%w: pgledger: schema name %q must have 1 to 63 bytes", budget.ErrInvalid, schema)
	case !utf8.ValidString(schema) || strings.ContainsRune(schema, 0) || strings.Contains(schema, dollarTag):
		return fmt.Errorf("%w: pgledger: schema name %q must be UTF-8 without NUL or %s", budget.ErrInvalid, schema, dollarTag)
	}
	return nil
}

// ident returns the quoted identifier of name in schema.
func ident(schema, name string) string { return pgx.Identifier{schema, name}.Sanitize() }

// expand replaces the placeholders of a migration: {{schema}} by the quoted
// schema name and {{sequence}} by the string literal naming the
// reservation_id sequence.
func expand(sql, schema string) string {
	q := pgx.Identifier{schema}.Sanitize()
	seq := "'" + strings.ReplaceAll(ident(schema, "reservation_id"), "'", "''") + "'"
	return strings.NewReplacer("{{schema}}", q, "{{sequence}}", seq).Replace(sql)
}

// Migrate creates the ledger's tables and functions in schema, creating the
// schema if needed, or brings them to [SchemaVersion]. It is idempotent and
// safe to run from several processes at once (they take turns on an
// advisory lock); each version is applied in one transaction with the
// record of it in schema.schema_version. Several budgets (see [New]) share
// one schema.
//
// It returns an error matching [ErrSchemaVersion] when the schema is newer
// than this package, [budget.ErrInvalid] for a bad schema name, and
// [budget.ErrUnavailable] when the database cannot be reached or refuses
// (lacking the privilege to create the schema, say).
func Migrate(ctx context.Context, pool *pgxpool.Pool, schema string) error {
	if pool == nil {
		return fmt.Errorf("%w: pgledger: nil pool", budget.ErrInvalid)
	}
	if err := checkSchema(schema); err != nil {
		return err
	}
	ms, err := migrations()
	if err != nil {
		return err
	}
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtextextended('baar pgledger ' || $1, 0))", schema); err != nil {
			return err
		}
		q := pgx.Identifier{schema}.Sanitize()
		if _, err := tx.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+q+`;
CREATE TABLE IF NOT EXISTS `+q+`.schema_version (
    version    integer PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now()
)`); err != nil {
			return err
		}
		var v int
		if err := tx.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM "+ident(schema, "schema_version")).Scan(&v); err != nil {
			return err
		}
		if v > SchemaVersion {
			return &SchemaError{Schema: schema, Version: v}
		}
		for _, m := range ms[v:] {
			if _, err := tx.Exec(ctx, expand(m.sql, schema)); err != nil {
				return fmt.Errorf("migration %d: %w", m.version, err)
			}
			if _, err := tx.Exec(ctx, "INSERT INTO "+ident(schema, "schema_version")+" (version) VALUES ($1)", m.version); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, ErrSchemaVersion) {
		return fmt.Errorf("pgledger: migrating schema %q: %w: %w", schema, budget.ErrUnavailable, err)
	}
	return err
}

// schemaVersion reads schema's version: 0 when it holds no ledger tables.
func schemaVersion(ctx context.Context, pool *pgxpool.Pool, schema string) (int, error) {
	var v int
	err := pool.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM "+ident(schema, "schema_version")).Scan(&v)
	var pe *pgconn.PgError
	if errors.As(err, &pe) && (pe.Code == "42P01" || pe.Code == "3F000") { // undefined_table, invalid_schema_name
		return 0, nil
	}
	return v, err
}
