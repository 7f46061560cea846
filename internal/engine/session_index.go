package engine

import (
	"bytes"
	"context"
	"fmt"

	"github.com/fiberlogto/sdk/logto"
)

// The session index maps a Logto user (sub) and a Logto session (sid) to
// the storage keys of their sessions here, so a back-channel logout can end
// them on every instance sharing the storage. It holds storage keys (hashes
// of session IDs), never the IDs themselves: a dump of it opens no session.
//
// Each list is bounded to maxIndexedSessions, pruned of sessions that are
// gone whenever it is written, and expires with the longest session it can
// name (AbsoluteTimeout after its last write).
const (
	subIndexPrefix     = "fiberlogto:u:"
	sidIndexPrefix     = "fiberlogto:x:"
	maxIndexedSessions = 32
)

func (s *sessionStore) indexKeys(rec *sessionRecord) []string {
	var keys []string
	if len(rec.Subject) > 0 {
		keys = append(keys, storageKey(subIndexPrefix, string(rec.Subject)))
	}
	if len(rec.SID) > 0 {
		keys = append(keys, storageKey(sidIndexPrefix, string(rec.SID)))
	}
	return keys
}

// index adds the session stored under key to its user's and Logto
// session's lists.
// A list is read, pruned and written back; fiber.Storage has no
// compare-and-set, so concurrent sign-ins of one user would drop each
// other's entries, and a back-channel logout would then miss a session.
// The list's lock serialises them.
func (s *sessionStore) index(ctx context.Context, key string, rec *sessionRecord) error {
	member := []byte(key)
	for _, key := range s.indexKeys(rec) {
		if err := s.addToIndex(ctx, key, member); err != nil {
			return err
		}
	}
	return nil
}

func (s *sessionStore) addToIndex(ctx context.Context, key string, member []byte) error {
	// Without the lease in time the write goes on unserialised rather than
	// failing the sign-in.
	l, err := s.hold(ctx, indexLock(key), shortLeaseTTL, shortLeaseWait, nil)
	if err != nil {
		return err
	}
	defer l.release()
	list, err := s.indexList(ctx, key)
	if err != nil {
		return err
	}
	kept := [][]byte{member}
	for _, m := range list {
		if len(kept) >= maxIndexedSessions {
			break
		}
		if bytes.Equal(m, member) {
			continue
		}
		if v, err := s.getFresh(ctx, string(m)); err == nil && len(v) > 0 {
			kept = append(kept, m)
		}
	}
	if err := s.storage.SetWithContext(ctx, key, bytes.Join(kept, []byte("\n")), s.cfg.AbsoluteTimeout); err != nil {
		return fmt.Errorf("%w: %w", logto.ErrStorage, err)
	}
	return nil
}

func (s *sessionStore) indexList(ctx context.Context, key string) ([][]byte, error) {
	raw, err := s.getFresh(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", logto.ErrStorage, err)
	}
	if len(raw) == 0 {
		return nil, nil
	}
	return bytes.Split(raw, []byte("\n")), nil
}

// endIndexed deletes every session the index names under key, and the list.
// With sub set, only sessions of that user are ended (a sid names one
// Logto session, which belongs to one user, but the record is checked).
func (s *sessionStore) endIndexed(ctx context.Context, key, sub string) (int, error) {
	list, err := s.takeIndex(ctx, key)
	if err != nil {
		return 0, err
	}
	ended := 0
	for _, m := range list {
		if !bytes.HasPrefix(m, []byte(sessionKeyPrefix)) {
			continue // not one of ours: never delete a foreign key
		}
		n, err := s.endStored(ctx, string(m), sub)
		if err != nil {
			return ended, err
		}
		ended += n
	}
	return ended, nil
}

// takeIndex reads and deletes the list under key, under the list's lock: a
// sign-in indexing a session meanwhile lands before (and is ended) or after
// (in a new list), and a storage with a read cache reads the list fresh
// once the lease is taken. The sessions are ended after the lock is
// released, each under its own lock, which may have to wait for a refresh.
func (s *sessionStore) takeIndex(ctx context.Context, key string) ([][]byte, error) {
	l, err := s.hold(ctx, indexLock(key), shortLeaseTTL, shortLeaseWait, nil)
	if err != nil {
		return nil, err
	}
	defer l.release()
	list, err := s.indexList(ctx, key)
	if err != nil {
		return nil, err
	}
	if err := s.storage.DeleteWithContext(ctx, key); err != nil {
		return nil, fmt.Errorf("%w: %w", logto.ErrStorage, err)
	}
	return list, nil
}

// endStored deletes the session stored under m (of user sub, when set),
// under the session's lock: a refresh running on another instance saves
// first and is deleted with it, rather than saving the session again
// afterwards. Without the lease in time it deletes all the same.
func (s *sessionStore) endStored(ctx context.Context, m, sub string) (int, error) {
	l, err := s.hold(ctx, sessionLock(m), shortLeaseTTL, shortLeaseWait, nil)
	if err != nil {
		return 0, err
	}
	defer l.release()
	if sub != "" {
		raw, err := s.getFresh(ctx, m)
		if err != nil {
			return 0, fmt.Errorf("%w: %w", logto.ErrStorage, err)
		}
		if rec := s.decodeStored(m, raw); rec != nil && string(rec.Subject) != sub {
			return 0, nil
		}
	}
	if err := s.storage.DeleteWithContext(ctx, m); err != nil {
		return 0, fmt.Errorf("%w: %w", logto.ErrStorage, err)
	}
	return 1, nil
}
