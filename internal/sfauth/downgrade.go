package sfauth

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// ErrDowngrade is returned (wrapped) when org_url is https but the token
// answer's instance_url is http: following it would send the access token in
// clear text. It is permanent (IsPermanent): the org or a proxy in the way
// must change.
var ErrDowngrade = errors.New("refusing to downgrade from https to http")

// checkNoDowngrade accepts an http instance_url only when org_url is http
// itself (a local emulator); with an https org_url the instance must be https.
// The error names both URLs as scheme and host only: instance_url is the
// server's text, and nothing past the host is needed to fix the setup.
func checkNoDowngrade(orgURL string, instance *url.URL) error {
	org, err := url.Parse(orgURL)
	if err != nil || !strings.EqualFold(org.Scheme, "https") || strings.EqualFold(instance.Scheme, "https") {
		return nil
	}
	shown := url.URL{Scheme: instance.Scheme, Host: instance.Host}
	return fmt.Errorf("%w: org_url %s is https but the token endpoint answered instance_url %s; the access token is never sent over http (http is accepted only when org_url is http, as with a local emulator)",
		ErrDowngrade, orgURL, shown.String())
}
