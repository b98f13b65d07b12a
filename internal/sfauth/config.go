package sfauth

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// GrantType names the OAuth flow a Source uses, as written in the input's
// auth.grant_type field.
type GrantType string

// The supported grants.
const (
	GrantClientCredentials GrantType = "client_credentials"
	GrantJWTBearer         GrantType = "jwt_bearer"
	GrantRefreshToken      GrantType = "refresh_token"
	GrantPassword          GrantType = "password"
)

// wireValue is the grant_type parameter Salesforce expects for g.
func (g GrantType) wireValue() string {
	if g == GrantJWTBearer {
		return "urn:ietf:params:oauth:grant-type:jwt-bearer"
	}
	return string(g)
}

// Config describes how to obtain tokens. Field comments name the input's
// configuration field each comes from, because validation errors use those
// names.
type Config struct {
	// OrgURL is the base URL of the token endpoint (org_url): the My Domain
	// URL, https://login.salesforce.com, https://test.salesforce.com or a
	// community URL. The token endpoint is OrgURL + "/services/oauth2/token".
	OrgURL    string
	GrantType GrantType // auth.grant_type

	ClientID     string // auth.client_id (consumer key)
	ClientSecret string // auth.client_secret (consumer secret)
	Username     string // auth.username: jwt_bearer (sub) and password
	Password     string // auth.password: password followed by the security token
	RefreshToken string // auth.refresh_token

	// PrivateKeyPEM is the PEM RSA private key (PKCS#1 or PKCS#8, not
	// encrypted) that signs jwt_bearer assertions; the caller reads the file.
	PrivateKeyPEM []byte
	// Audience overrides the jwt_bearer aud claim; by default it is derived
	// from OrgURL (see audienceFor).
	Audience string

	// HTTPClient carries the caller's TLS and proxy settings; nil means a
	// plain client. Redirects are never followed (see newSource).
	HTTPClient *http.Client
}

// validGrants lists the grants in the order error messages show them.
var validGrants = []GrantType{GrantClientCredentials, GrantJWTBearer, GrantRefreshToken, GrantPassword}

// Grants returns the supported grants in the order error messages show them.
func Grants() []GrantType { return append([]GrantType(nil), validGrants...) }

// grantFields is the one table of the fields each grant requires, named as in
// the input's auth object. jwt_bearer also needs a key (private_key_file or
// private_key), checked apart because either of two fields provides it.
var grantFields = map[GrantType][]string{
	GrantClientCredentials: {"client_id", "client_secret"},
	GrantJWTBearer:         {"client_id", "username"},
	GrantRefreshToken:      {"client_id", "refresh_token"},
	GrantPassword:          {"client_id", "client_secret", "username", "password"},
}

// RequiredFields returns the auth fields grant g requires (besides
// jwt_bearer's key); ok is false for an unknown grant. The input's
// configuration check and its lint rule are built from it.
func RequiredFields(g GrantType) (fields []string, ok bool) {
	fields, ok = grantFields[g]
	return append([]string(nil), fields...), ok
}

// value returns the configured value of auth field name.
func (c Config) value(name string) string {
	switch name {
	case "client_id":
		return c.ClientID
	case "client_secret":
		return c.ClientSecret
	case "username":
		return c.Username
	case "password":
		return c.Password
	case "refresh_token":
		return c.RefreshToken
	}
	return ""
}

// validate checks that the grant has every field it needs and returns the
// normalised org URL (no trailing slash). All problems are reported at once,
// so a user fixes a config in one pass.
func (c Config) validate() (string, error) {
	var errs []error
	orgURL, err := CheckOrgURL(c.OrgURL)
	if err != nil {
		errs = append(errs, err)
	}

	required, known := grantFields[c.GrantType]
	switch {
	case known:
		for _, field := range required {
			if strings.TrimSpace(c.value(field)) == "" {
				errs = append(errs, fmt.Errorf("auth.%s is required for grant_type %s", field, c.GrantType))
			}
		}
		if c.GrantType == GrantJWTBearer && len(c.PrivateKeyPEM) == 0 {
			errs = append(errs, fmt.Errorf("auth.private_key_file (or auth.private_key) is required for grant_type %s", c.GrantType))
		}
	case c.GrantType == "":
		errs = append(errs, fmt.Errorf("auth.grant_type is required (one of %s)", grantList()))
	default:
		errs = append(errs, fmt.Errorf("auth.grant_type %q is not supported (one of %s)", string(c.GrantType), grantList()))
	}
	return orgURL, errors.Join(errs...)
}

func grantList() string {
	names := make([]string, len(validGrants))
	for i, g := range validGrants {
		names[i] = string(g)
	}
	return strings.Join(names, ", ")
}

// CheckOrgURL accepts an absolute http(s) URL without credentials, query or
// fragment, and returns it without surrounding space and trailing slash. A
// path is allowed because community URLs have one.
func CheckOrgURL(raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", errors.New("org_url is required")
	}
	u, err := url.Parse(raw)
	if err != nil {
		// url.Error repeats the input, which is not secret; keep only the reason.
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return "", fmt.Errorf("org_url is not a valid URL: %w", err)
	}
	switch {
	case u.Scheme != "https" && u.Scheme != "http":
		return "", fmt.Errorf("org_url must start with https:// (got scheme %q)", u.Scheme)
	case u.Host == "":
		return "", errors.New("org_url has no host")
	case u.User != nil:
		return "", errors.New("org_url must not contain a user name or password")
	case u.RawQuery != "" || u.Fragment != "":
		return "", errors.New("org_url must not contain a query or fragment")
	}
	return strings.TrimRight(u.String(), "/"), nil
}

// audienceFor derives the jwt_bearer aud claim. Salesforce checks aud against
// the login host of the org's environment, not against the URL the assertion
// is posted to: production orgs (including their My Domain hosts) want
// https://login.salesforce.com, sandboxes and scratch orgs want
// https://test.salesforce.com, and a community (Experience Cloud site) wants
// its own URL. Any host that is not Salesforce's own (a community on a custom
// domain, the local emulator) therefore gets orgURL itself.
func audienceFor(orgURL string) string {
	u, err := url.Parse(orgURL)
	if err != nil {
		return orgURL
	}
	host := strings.ToLower(u.Hostname())
	switch {
	case host == "test.salesforce.com",
		strings.HasSuffix(host, ".sandbox.my.salesforce.com"),
		strings.HasSuffix(host, ".scratch.my.salesforce.com"),
		// Sandboxes without enhanced domains: mydomain--sandboxname.my.salesforce.com.
		strings.HasSuffix(host, ".my.salesforce.com") && strings.Contains(firstLabel(host), "--"):
		return "https://test.salesforce.com"
	case host == "login.salesforce.com", strings.HasSuffix(host, ".salesforce.com"):
		return "https://login.salesforce.com"
	default:
		return orgURL
	}
}

func firstLabel(host string) string {
	label, _, _ := strings.Cut(host, ".")
	return label
}
