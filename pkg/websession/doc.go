// Package websession is the signed session cookie of the sipbus web page
// (services/web), shared by every HTTP handler of the process that acts for
// a signed-in subscriber (the click-to-dial API accepts the same session).
//
// # The cookie
//
// The value is base64url(JSON payload) "." base64url(HMAC-SHA256(key,
// payload)). The payload holds the AOR, the expiry, the user's session
// generation when it was issued, a fingerprint of the user's HA1 (the first
// 8 bytes of SHA-256 over the stored SHA-256 HA1) and a random session id.
// Nothing in it is secret; the MAC makes it unforgeable. The cookie is
// HttpOnly, SameSite=Strict, Path=/, and Secure when the request came over
// TLS (Config.Secure forces it behind a TLS-terminating proxy).
//
// # Revocation
//
// Check accepts a cookie only while all of these hold: the MAC verifies
// with the key, it has not expired, the user exists and is enabled, the
// user's generation (Generations) still equals the one in the cookie, and
// the fingerprint still matches the stored HA1. So a password change made
// anywhere (the web page, `sipbus user passwd`) ends every session of that
// user, and Revoke (sign-out, disable, reset) ends them on purpose. The
// admin flag is read from the directory on each Check, never trusted from
// the cookie.
//
// # CSRF
//
// Each session has a CSRF token, HMAC(key, "csrf" + session id): forms
// carry it in the field "csrf", scripts in the header X-CSRF-Token.
// CheckCSRF compares it in constant time. Before sign-in, the sign-in form
// uses a double-submit token: a random value in the cookie
// sipbus_signin (HttpOnly, SameSite=Strict) that the form must echo.
//
// # Generations in Redis
//
//	<prefix>:websess:{<aor>}   STRING, the user's generation (INCR on
//	                           Revoke); TTL = the session lifetime, renewed
//	                           on each Issue, so it outlives every cookie
//	                           issued under it and then goes away (a missing
//	                           key is generation 0).
package websession
