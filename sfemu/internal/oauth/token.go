package oauth

import (
	"crypto"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/jsonw"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/sfhttp"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/tokens"
)

// Config is what the login endpoints check and answer: the org's credentials and identity.
type Config struct {
	ClientID      string
	ClientSecret  string
	Username      string
	Password      string // the password grant and SOAP login expect Password+SecurityToken
	SecurityToken string
	RefreshToken  string
	// JWTPublicKey verifies jwt-bearer assertions (RS256); nil rejects that grant.
	JWTPublicKey *rsa.PublicKey
	// JWTAudiences are accepted `aud` values besides the login hosts and the emulator's own base URL.
	JWTAudiences []string
	// GenericLoginHost refuses client_credentials, as login.salesforce.com does.
	GenericLoginHost bool
	InstanceURL      string // "" : scheme://host of the request
	OrgID            string // 18 characters
	UserID           string
}

// Clock is the time the endpoints stamp answers with and check assertions against.
type Clock interface{ Now() time.Time }

// Handler answers the OAuth 2.0 token endpoint, the userinfo endpoint and SOAP login(). It issues tokens into the
// store it is given and reads nothing else of the emulator.
type Handler struct {
	cfg    Config
	tokens *tokens.Store
	clock  Clock
	logf   func(format string, args ...any)
}

// New returns a Handler; logf receives one line per refused login, never a secret.
func New(cfg Config, store *tokens.Store, clock Clock, logf func(format string, args ...any)) *Handler {
	return &Handler{cfg: cfg, tokens: store, clock: clock, logf: logf}
}

// OAuth 2.0 token endpoint (docs/emulator.md).

const (
	grantPassword          = "password"
	grantClientCredentials = "client_credentials"
	grantRefreshToken      = "refresh_token"
	grantJWTBearer         = "urn:ietf:params:oauth:grant-type:jwt-bearer"
)

type oauthError struct{ code, description string }

var (
	errOAuthAuthFailure     = oauthError{"invalid_grant", "authentication failure"}
	errOAuthClientID        = oauthError{"invalid_client_id", "client identifier invalid"}
	errOAuthClient          = oauthError{"invalid_client", "invalid client credentials"}
	errOAuthRefresh         = oauthError{"invalid_grant", "expired access/refresh token"}
	errOAuthDomain          = oauthError{"invalid_grant", "request not supported on this domain"}
	errOAuthGrantType       = oauthError{"unsupported_grant_type", "grant type not supported"}
	errOAuthAssertion       = oauthError{"invalid_grant", "invalid assertion"}
	errOAuthAudience        = oauthError{"invalid_grant", "audience is invalid"}
	errOAuthExpiredJWT      = oauthError{"invalid_grant", "expired authorization code"}
	errOAuthNotApproved     = oauthError{"invalid_grant", "user hasn't approved this consumer"}
	errOAuthMethod          = oauthError{"invalid_request", "must use HTTP POST"}
	errOAuthMissingAssertio = oauthError{"invalid_request", "assertion required"}
)

func writeOAuthError(w http.ResponseWriter, e oauthError) {
	w.Header().Set("Cache-Control", "no-store")
	sfhttp.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": e.code, "error_description": e.description})
}

func secretEqual(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

// ServeToken answers POST /services/oauth2/token.
func (s *Handler) ServeToken(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		writeOAuthError(w, errOAuthMethod)
		return
	}
	body, err := sfhttp.ReadLimited(r.Body, 1<<20)
	if err != nil {
		writeOAuthError(w, oauthError{"invalid_request", "reading request body"})
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		writeOAuthError(w, oauthError{"invalid_request", "malformed form body"})
		return
	}
	for k, v := range r.URL.Query() { // Salesforce also reads the parameters from the query string
		if form.Get(k) == "" {
			form[k] = v
		}
	}
	clientID, clientSecret := form.Get("client_id"), form.Get("client_secret")
	if u, p, ok := r.BasicAuth(); ok && clientID == "" {
		clientID, clientSecret = u, p
	}
	grant := form.Get("grant_type")
	cfg := &s.cfg
	var oe *oauthError
	fail := func(e oauthError) { oe = &e }
	scope := "api"
	switch grant {
	case grantPassword:
		scope = ""
		switch {
		case !secretEqual(clientID, cfg.ClientID):
			fail(errOAuthClientID)
		case !secretEqual(clientSecret, cfg.ClientSecret):
			fail(errOAuthClient)
		case !secretEqual(form.Get("username"), cfg.Username) || !secretEqual(form.Get("password"), cfg.Password+cfg.SecurityToken):
			fail(errOAuthAuthFailure)
		}
	case grantClientCredentials:
		switch {
		case cfg.GenericLoginHost:
			fail(errOAuthDomain)
		case !secretEqual(clientID, cfg.ClientID):
			fail(errOAuthClientID)
		case !secretEqual(clientSecret, cfg.ClientSecret):
			fail(errOAuthClient)
		}
	case grantRefreshToken:
		switch {
		case !secretEqual(clientID, cfg.ClientID):
			fail(errOAuthClientID)
		case clientSecret != "" && !secretEqual(clientSecret, cfg.ClientSecret):
			fail(errOAuthClient)
		case !secretEqual(form.Get("refresh_token"), cfg.RefreshToken):
			fail(errOAuthRefresh)
		}
	case grantJWTBearer:
		if e := s.checkAssertion(form.Get("assertion"), sfhttp.BaseURL(s.cfg.InstanceURL, r)); e != nil {
			fail(*e)
		}
	default:
		fail(errOAuthGrantType)
	}
	if oe != nil {
		s.tokens.Refused()
		s.logf("oauth %s: %s", grant, oe.code)
		writeOAuthError(w, *oe)
		return
	}

	token := s.tokens.Issue()

	base := sfhttp.BaseURL(s.cfg.InstanceURL, r)
	id := base + "/id/" + cfg.OrgID + "/" + cfg.UserID
	issuedAt := strconv.FormatInt(s.clock.Now().UnixMilli(), 10)
	mac := hmac.New(sha256.New, []byte(cfg.ClientSecret))
	mac.Write([]byte(id + issuedAt))
	o := jsonw.Make(nil)
	o.Str("access_token", token)
	if grant == grantJWTBearer || grant == grantClientCredentials || grant == grantRefreshToken {
		o.Str("scope", scope)
	}
	o.Str("instance_url", base)
	o.Str("id", id)
	o.Str("token_type", "Bearer")
	o.Str("issued_at", issuedAt)
	if grant != grantJWTBearer { // the JWT flow never involves the client secret
		o.Str("signature", base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	}
	if grant == grantClientCredentials {
		o.Str("api_instance_url", base)
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(o.Done())
}

// checkAssertion verifies an RS256 JWT bearer assertion: signature against the configured key, iss = client id,
// sub (or prn, which wins) = username, aud = a login host or this emulator, exp in the future.
func (s *Handler) checkAssertion(assertion, base string) *oauthError {
	if assertion == "" {
		return &errOAuthMissingAssertio
	}
	parts := strings.Split(assertion, ".")
	if len(parts) != 3 || s.cfg.JWTPublicKey == nil {
		return &errOAuthAssertion
	}
	var header struct {
		Alg string `json:"alg"`
	}
	var claims struct {
		Iss string          `json:"iss"`
		Sub string          `json:"sub"`
		Prn string          `json:"prn"`
		Aud json.RawMessage `json:"aud"`
		Exp json.Number     `json:"exp"`
	}
	if decodeSegment(parts[0], &header) != nil || header.Alg != "RS256" || decodeSegment(parts[1], &claims) != nil {
		return &errOAuthAssertion
	}
	sig, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[2], "="))
	if err != nil {
		return &errOAuthAssertion
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if rsa.VerifyPKCS1v15(s.cfg.JWTPublicKey, crypto.SHA256, digest[:], sig) != nil {
		return &errOAuthAssertion
	}
	if !secretEqual(claims.Iss, s.cfg.ClientID) {
		return &errOAuthClientID
	}
	user := claims.Sub
	if claims.Prn != "" {
		user = claims.Prn
	}
	if !secretEqual(user, s.cfg.Username) {
		return &errOAuthNotApproved
	}
	if !s.audienceOK(claims.Aud, base) {
		return &errOAuthAudience
	}
	exp, err := claims.Exp.Float64()
	if err != nil || time.Unix(int64(exp), 0).Before(s.clock.Now()) {
		return &errOAuthExpiredJWT
	}
	return nil
}

func (s *Handler) audienceOK(raw json.RawMessage, base string) bool {
	var auds []string
	var one string
	if json.Unmarshal(raw, &one) == nil {
		auds = []string{one}
	} else if json.Unmarshal(raw, &auds) != nil {
		return false
	}
	accepted := append([]string{"https://login.salesforce.com", "https://test.salesforce.com", base}, s.cfg.JWTAudiences...)
	for _, a := range auds {
		for _, ok := range accepted {
			if strings.TrimRight(a, "/") == strings.TrimRight(ok, "/") {
				return true
			}
		}
	}
	return false
}

func decodeSegment(seg string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(seg, "="))
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}
