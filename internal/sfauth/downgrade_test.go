package sfauth

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHTTPSOrgRefusesHTTPInstance(t *testing.T) {
	tests := []struct {
		name     string
		instance string
		refused  bool
	}{
		{"http instance", "http://evil.example:8080/x?y=1", true},
		{"https instance", "https://na1.example", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				writeJSON(w, http.StatusOK, map[string]string{"access_token": "00D000000000001!SECRETTOKEN", "instance_url": tt.instance})
			}))
			t.Cleanup(srv.Close)
			cfg := clientCredentials(srv.URL)
			cfg.HTTPClient = srv.Client()
			s := newTestSource(t, cfg)
			tok, err := s.Token(t.Context())
			if !tt.refused {
				require.NoError(t, err)
				assert.Equal(t, tt.instance, tok.InstanceURL)
				return
			}
			require.ErrorIs(t, err, ErrDowngrade)
			assert.True(t, IsPermanent(err))
			assert.Contains(t, err.Error(), srv.URL, "names org_url")
			assert.Contains(t, err.Error(), "http://evil.example:8080", "names instance_url")
			assert.NotContains(t, err.Error(), "SECRETTOKEN")
			assert.NotContains(t, err.Error(), "y=1", "only scheme and host of the server's URL")
		})
	}
}

func TestHTTPOrgAcceptsHTTPInstance(t *testing.T) {
	ep := newFakeEndpoint(t, func(w http.ResponseWriter, n int) {
		writeJSON(w, http.StatusOK, map[string]string{"access_token": "tok", "instance_url": "http://127.0.0.1:1"})
	})
	_, err := newTestSource(t, clientCredentials(ep.srv.URL)).Token(t.Context())
	require.NoError(t, err, "a local emulator over http stays usable")
}

// A token endpoint that echoes the whole request in its error: no form of the
// secret survives into the error, whatever its encoding.
func TestEchoedRequestIsRedacted(t *testing.T) {
	const secret = `cs"é &x%20y+z\`
	const password = `pw<&>"😀 ok`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		raw := r.PostForm.Encode()
		js, _ := json.Marshal(r.PostForm)
		writeJSON(w, http.StatusBadRequest, map[string]string{
			"error":             "invalid_grant",
			"error_description": "got " + raw + " and " + string(js) + " and " + r.PostForm.Get("client_secret") + " / " + url.PathEscape(r.PostForm.Get("password")),
		})
	}))
	t.Cleanup(srv.Close)
	s := newTestSource(t, Config{OrgURL: srv.URL, GrantType: GrantPassword, ClientID: "cid",
		ClientSecret: secret, Username: "u", Password: password})
	_, err := s.Token(t.Context())
	require.Error(t, err)
	msg := err.Error()
	assert.Contains(t, msg, "invalid_grant")
	for _, sec := range []string{secret, password} {
		js, _ := json.Marshal(sec)
		for _, form := range []string{sec, url.QueryEscape(sec), url.PathEscape(sec), string(js[1 : len(js)-1])} {
			assert.NotContains(t, msg, form)
		}
	}
	assert.NotContains(t, msg, "x%20y")
}

func TestInstanceURLWithMoreThanAHostIsRefused(t *testing.T) {
	for _, instance := range []string{"https://u:p4ss@na1.example", "https://na1.example/?sid=00D000000000001!x", "https://na1.example/#frag"} {
		t.Run(instance, func(t *testing.T) {
			ep := newFakeEndpoint(t, func(w http.ResponseWriter, n int) {
				writeJSON(w, http.StatusOK, map[string]string{"access_token": "tok", "instance_url": instance})
			})
			_, err := newTestSource(t, clientCredentials(ep.srv.URL)).Token(t.Context())
			require.ErrorIs(t, err, ErrInvalidResponse)
			assert.NotContains(t, err.Error(), "p4ss")
			assert.NotContains(t, err.Error(), "sid=")
		})
	}
}
