package fiberlogto

// StorageKeyForTest exposes the storage key of a session ID to the external
// tests, which look into storage to assert that a session is gone.
func StorageKeyForTest(id string) string { return storageKey(sessionKeyPrefix, id) }

// RefreshTokenForTest reads the refresh token of a stored, unencrypted session.
func RefreshTokenForTest(s interface{ Get(string) ([]byte, error) }, id string) string {
	raw, err := s.Get(StorageKeyForTest(id))
	if err != nil || len(raw) == 0 {
		return ""
	}
	rec, err := decodeRecord(raw)
	if err != nil {
		return ""
	}
	return string(rec.RefreshToken)
}
