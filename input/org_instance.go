package input

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/salesforce-streaming/salesforce_streaming/internal/sfauth"
)

// instanceQuery reads the instance (Salesforce's "pod") the org lives on.
// An org migration changes it; the org's My Domain URL stays the same.
const instanceQuery = "SELECT InstanceName FROM Organization"

const (
	// instanceQueryTimeout bounds the whole query, token refresh included.
	instanceQueryTimeout = 30 * time.Second
	// maxInstanceAnswer bounds the answer read: one record is a few hundred
	// bytes.
	maxInstanceAnswer = 64 << 10
)

// errSessionRejected is a 401 of the query: the token is refreshed once.
var errSessionRejected = errors.New("the session was rejected (HTTP 401)")

// queryInstanceName reads the org's instance name with one SOQL query over
// the REST API, on the token's instance URL. Server text in its errors is
// redacted.
func queryInstanceName(ctx context.Context, hc *http.Client, auth *sfauth.Source, apiVersion string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, instanceQueryTimeout)
	defer cancel()
	tok, err := auth.Token(ctx)
	if err != nil {
		return "", err
	}
	name, err := getInstanceName(ctx, hc, tok, apiVersion)
	if errors.Is(err, errSessionRejected) {
		if tok, err = auth.Refresh(ctx, tok); err != nil {
			return "", err
		}
		name, err = getInstanceName(ctx, hc, tok, apiVersion)
	}
	if err != nil {
		return "", errors.New(auth.Redactor().String(err.Error()))
	}
	return name, nil
}

func getInstanceName(ctx context.Context, hc *http.Client, tok sfauth.Token, apiVersion string) (string, error) {
	u := tok.InstanceURL + "/services/data/v" + apiVersion + "/query?q=" + url.QueryEscape(instanceQuery)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", fmt.Errorf("building the query %q: %w", instanceQuery, err)
	}
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	req.Header.Set("Accept", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return "", fmt.Errorf("querying %q: %w", instanceQuery, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxInstanceAnswer))
	if err != nil {
		return "", fmt.Errorf("reading the answer of %q: %w", instanceQuery, err)
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		return "", errSessionRejected
	case resp.StatusCode != http.StatusOK:
		return "", fmt.Errorf("querying %q: HTTP %d: %s", instanceQuery, resp.StatusCode, shorten(string(body)))
	}
	var answer struct {
		Records []struct {
			InstanceName string
		} `json:"records"`
	}
	if err := json.Unmarshal(body, &answer); err != nil {
		return "", fmt.Errorf("reading the answer of %q: %w", instanceQuery, err)
	}
	if len(answer.Records) != 1 || answer.Records[0].InstanceName == "" {
		return "", fmt.Errorf("the answer of %q holds no instance name: %s", instanceQuery, shorten(string(body)))
	}
	return answer.Records[0].InstanceName, nil
}
