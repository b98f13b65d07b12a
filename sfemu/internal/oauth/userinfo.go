package oauth

import (
	"net/http"
	"strings"

	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/jsonw"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/sfhttp"
)

// ServeUserInfo answers GET /services/oauth2/userinfo, the OpenID Connect user info of the token's user;
// Salesforce's own Pub/Sub examples read organization_id from it for the tenantid header
// (https://help.salesforce.com/s/articleView?id=sf.remoteaccess_using_userinfo_endpoint.htm).
func (s *Handler) ServeUserInfo(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		sfhttp.MethodNotAllowed(w, r, http.MethodGet, http.MethodPost)
		return
	}
	if token, _ := sfhttp.AuthToken(r); !s.tokens.Valid(token) {
		sfhttp.WriteRESTError(w, http.StatusUnauthorized, "INVALID_SESSION_ID", "Session expired or invalid")
		return
	}
	base := sfhttp.BaseURL(s.cfg.InstanceURL, r)
	cfg := &s.cfg
	user := cfg.Username
	local, _, _ := strings.Cut(user, "@")
	o := jsonw.Make(nil)
	o.Str("sub", base+"/id/"+cfg.OrgID+"/"+cfg.UserID)
	o.Str("user_id", cfg.UserID)
	o.Str("organization_id", cfg.OrgID)
	o.Str("preferred_username", user)
	o.Str("nickname", local)
	o.Str("name", "Emulated User")
	o.Str("email", user)
	o.Bool("email_verified", true)
	o.Str("given_name", "Emulated")
	o.Str("family_name", "User")
	o.Str("zoneinfo", "America/Los_Angeles")
	o.Str("profile", base+"/"+cfg.UserID)
	o.Str("user_type", "STANDARD")
	o.Str("language", "en_US")
	o.Str("locale", "en_US")
	o.Int("utcOffset", -28800000)
	o.Bool("active", true)
	o.Str("updated_at", s.clock.Now().UTC().Format("2006-01-02T15:04:05Z"))
	urls := jsonw.Make(nil)
	urls.Str("rest", base+"/services/data/v{version}/")
	urls.Str("custom_domain", base)
	urls.Str("profile", base+"/"+cfg.UserID)
	o.Raw("urls", urls.Done())

	w.Header().Set("Cache-Control", "no-store")
	sfhttp.WriteRaw(w, http.StatusOK, o.Done())
}
