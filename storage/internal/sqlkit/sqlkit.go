// Package sqlkit is what the SQL session storages (sqlite, postgres) share
// to implement logto.Leaser: the lease statements on their table (k, v, e:
// key, value, expiry in unix seconds, 0 for never) and their arguments. A
// new SQL storage picks it for its lease. It imports no database driver;
// each storage runs the statements on its own.
package sqlkit

import (
	"strconv"
	"time"
)

// Placeholder returns the n-th (from 1) bind parameter of a dialect.
type Placeholder func(n int) string

// Question is SQLite's placeholder, "?".
func Question(int) string { return "?" }

// Dollar is PostgreSQL's placeholder, "$n".
func Dollar(n int) string { return "$" + strconv.Itoa(n) }

// Statements are the lease statements on one table.
type Statements struct {
	// Acquire inserts the lease row, or takes it over when it has expired
	// or is already this owner's: one INSERT ... ON CONFLICT DO UPDATE ...
	// WHERE, atomic in SQLite and PostgreSQL. Its arguments are
	// AcquireArgs; it affects one row when the owner holds the lease.
	Acquire string
	// Release deletes the lease row if the owner holds it. Arguments:
	// key, []byte(owner).
	Release string
}

// New returns the Statements on table, which must already be safe to put
// in SQL as it is (validated or quoted), in the dialect of p.
func New(table string, p Placeholder) Statements {
	return Statements{
		Acquire: "INSERT INTO " + table + " AS t (k, v, e) VALUES (" + p(1) + ", " + p(2) + ", " + p(3) + ") " +
			"ON CONFLICT (k) DO UPDATE SET v = excluded.v, e = excluded.e " +
			"WHERE (t.e <> 0 AND t.e <= " + p(4) + ") OR t.v = excluded.v",
		Release: "DELETE FROM " + table + " WHERE k = " + p(1) + " AND v = " + p(2),
	}
}

// AcquireArgs are the arguments of Statements.Acquire: the lease's expiry
// is rounded up to the second, so it lasts at least ttl.
func AcquireArgs(key, owner string, ttl time.Duration, now time.Time) []any {
	exp := now.Add(ttl + time.Second - time.Nanosecond).Unix()
	return []any{key, []byte(owner), exp, now.Unix()}
}
