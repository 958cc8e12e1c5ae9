package store

// cloneBytes copies b; nil and empty become nil (as in Redis, where an
// empty value reads back as none).
func cloneBytes(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return append([]byte(nil), b...)
}
