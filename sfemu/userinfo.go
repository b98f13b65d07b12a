package sfemu

import (
	"net/http"
	"strings"
)

// serveUserInfo answers GET /services/oauth2/userinfo, the OpenID Connect user info of the token's user;
// Salesforce's own Pub/Sub examples read organization_id from it for the tenantid header
// (https://help.salesforce.com/s/articleView?id=sf.remoteaccess_using_userinfo_endpoint.htm).
func (s *oauthHandler) serveUserInfo(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		methodNotAllowed(w, r, http.MethodGet, http.MethodPost)
		return
	}
	if !s.restAuthorized(r) {
		writeRESTError(w, http.StatusUnauthorized, "INVALID_SESSION_ID", "Session expired or invalid")
		return
	}
	base := s.baseURL(r)
	cfg := &s.cfg
	user := cfg.Username
	local, _, _ := strings.Cut(user, "@")
	o := newObj(nil).
		str("sub", base+"/id/"+cfg.OrgID+"/"+cfg.UserID).
		str("user_id", cfg.UserID).
		str("organization_id", cfg.OrgID).
		str("preferred_username", user).
		str("nickname", local).
		str("name", "Emulated User").
		str("email", user).
		bool("email_verified", true).
		str("given_name", "Emulated").
		str("family_name", "User").
		str("zoneinfo", "America/Los_Angeles").
		str("profile", base+"/"+cfg.UserID).
		str("user_type", "STANDARD").
		str("language", "en_US").
		str("locale", "en_US").
		int("utcOffset", -28800000).
		bool("active", true).
		str("updated_at", s.clock.Now().UTC().Format("2006-01-02T15:04:05Z"))
	urls := newObj(nil).
		str("rest", base+"/services/data/v{version}/").
		str("custom_domain", base).
		str("profile", base+"/"+cfg.UserID)
	o.raw("urls", urls.done())
	w.Header().Set("Cache-Control", "no-store")
	writeRaw(w, http.StatusOK, o.done())
}
