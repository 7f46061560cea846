package sqlkit

import (
	"errors"
	"testing"
	"time"
)

func TestStatements(t *testing.T) {
	q := New("sessions", Question)
	if want := "DELETE FROM sessions WHERE k = ? AND v = ?"; q.Release != want {
		t.Errorf("Release = %q; want %q", q.Release, want)
	}
	d := New(`"public"."sessions"`, Dollar)
	if want := `DELETE FROM "public"."sessions" WHERE k = $1 RETURNING v, e`; d.Take != want {
		t.Errorf("Take = %q; want %q", d.Take, want)
	}
	if want := `INSERT INTO "public"."sessions" AS t (k, v, e) VALUES ($1, $2, $3) ` +
		`ON CONFLICT (k) DO UPDATE SET v = excluded.v, e = excluded.e ` +
		`WHERE (t.e <> 0 AND t.e <= $4) OR t.v = excluded.v`; d.Acquire != want {
		t.Errorf("Acquire = %q; want %q", d.Acquire, want)
	}
}

func TestAcquireArgsRoundUp(t *testing.T) {
	now := time.Unix(100, 200)
	for ttl, want := range map[time.Duration]int64{
		time.Millisecond:                  101,
		time.Second:                       102, // 101.0000002 -> 102
		time.Second - 200*time.Nanosecond: 101,
	} {
		args := AcquireArgs("k", "o", ttl, now)
		if got := args[2].(int64); got != want {
			t.Errorf("ttl %v: expiry %d; want %d", ttl, got, want)
		}
		if args[3].(int64) != 100 || string(args[1].([]byte)) != "o" {
			t.Errorf("ttl %v: args %v", ttl, args)
		}
	}
}

func TestTake(t *testing.T) {
	errNoRows := errors.New("no rows")
	noRows := func(err error) bool { return errors.Is(err, errNoRows) }
	row := func(v []byte, e int64, err error) func(dest ...any) error {
		return func(dest ...any) error {
			if err != nil {
				return err
			}
			*dest[0].(*[]byte), *dest[1].(*int64) = v, e
			return nil
		}
	}
	now := time.Now().Unix()
	for name, c := range map[string]struct {
		scan    func(dest ...any) error
		want    string
		wantErr bool
	}{
		"value":    {scan: row([]byte("v"), now+60, nil), want: "v"},
		"forever":  {scan: row([]byte("v"), 0, nil), want: "v"},
		"expired":  {scan: row([]byte("v"), now-1, nil)},
		"no row":   {scan: row(nil, 0, errNoRows)},
		"db error": {scan: row(nil, 0, errors.New("boom")), wantErr: true},
	} {
		v, err := Take(c.scan, noRows)
		if (err != nil) != c.wantErr || string(v) != c.want || (c.want == "" && v != nil) {
			t.Errorf("%s: Take = %q, %v; want %q (error: %v)", name, v, err, c.want, c.wantErr)
		}
	}
}
