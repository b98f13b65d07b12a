package sfauth

// Token is one access token and the facts Salesforce returned with it. Its
// printed forms (String, GoString, any fmt verb) never show AccessToken.
type Token struct {
	AccessToken string // Bearer token for every Streaming API request
	InstanceURL string // base URL of the org's instance: the CometD host (no trailing slash)
	ID          string // identity URL: https://login.salesforce.com/id/<OrgId>/<UserId>
	IssuedAt    string // milliseconds since the epoch, as Salesforce sends it (a string)
	Scope       string // space-separated scopes granted
}
