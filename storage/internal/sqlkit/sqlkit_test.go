package sqlkit

import (
	"testing"
	"time"
)

func TestStatements(t *testing.T) {
	q := New("sessions", Question)
	if want := "DELETE FROM sessions WHERE k = ? AND v = ?"; q.Release != want {
		t.Errorf("Release = %q; want %q", q.Release, want)
	}
	d := New(`"public"."sessions"`, Dollar)
	if want := `DELETE FROM "public"."sessions" WHERE k = $1 AND v = $2`; d.Release != want {
		t.Errorf("Release = %q; want %q", d.Release, want)
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
