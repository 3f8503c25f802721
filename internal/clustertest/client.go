package clustertest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Client speaks Tessera's HTTP API to any node, as clients and operators
// do.
type Client struct {
	HTTP       *http.Client
	AdminToken string
}

// NewClient returns a client with its own connection pool.
func NewClient(adminToken string) *Client {
	return &Client{
		HTTP:       &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}},
		AdminToken: adminToken,
	}
}

// Login is a successful login's credentials.
type Login struct {
	UserID, SessionID string
	Session           string // the session token (cookie delivery)
	Access, Refresh   string // token delivery
}

// SessionCookie is the session cookie's name over plain HTTP without
// --insecure-dev-cookies (the server sets it; a client may send it anyway).
const SessionCookie = "__Host-tessera_session"

// Login logs user in on node base; delivery is "cookie" or "token".
func (c *Client) Login(base, user, password, delivery string) (Login, error) {
	body, _ := json.Marshal(map[string]string{"username": user, "password": password, "delivery": delivery})
	req, _ := http.NewRequest("POST", base+"/v1/login", strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	res, err := c.HTTP.Do(req)
	if err != nil {
		return Login{}, err
	}
	defer res.Body.Close()
	var m struct {
		Session struct {
			ID     string `json:"id"`
			UserID string `json:"user_id"`
		} `json:"session"`
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
	}
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		return Login{}, fmt.Errorf("login on %s: %d %s", base, res.StatusCode, b)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return Login{}, err
	}
	l := Login{UserID: m.Session.UserID, SessionID: m.Session.ID, Access: m.AccessToken, Refresh: m.RefreshToken}
	for _, ck := range res.Cookies() {
		if ck.Name == SessionCookie {
			l.Session = ck.Value
		}
	}
	if delivery == "cookie" && l.Session == "" {
		return Login{}, fmt.Errorf("login on %s: no session cookie", base)
	}
	return l, nil
}

// Cred is how a request carries a credential.
type Cred struct {
	Cookie string // session token sent as the session cookie
	Bearer string // session token or JWT access token
}

// Status sends method path to base with cred and returns the status code
// (and the body); an error means no answer came (the node is down).
func (c *Client) Status(method, url string, cred Cred, body io.Reader, header ...string) (int, []byte, error) {
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		return 0, nil, err
	}
	if cred.Cookie != "" {
		req.AddCookie(&http.Cookie{Name: SessionCookie, Value: cred.Cookie})
	}
	if cred.Bearer != "" {
		req.Header.Set("Authorization", "Bearer "+cred.Bearer)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := c.HTTP.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res.StatusCode, b, err
}

// Whoami is GET /v1/session's status code on node base.
func (c *Client) Whoami(base string, cred Cred) (int, error) {
	code, _, err := c.Status("GET", base+"/v1/session", cred, nil)
	return code, err
}

// Admin sends an admin API request to node admin base with the admin
// token; body, if not empty, is JSON.
func (c *Client) Admin(method, url, body string) (int, []byte, error) {
	var r io.Reader
	h := []string{}
	if body != "" {
		r = strings.NewReader(body)
		h = []string{"Content-Type", "application/json"}
	}
	return c.Status(method, url, Cred{Bearer: c.AdminToken}, r, h...)
}

// Form posts a form to url, with HTTP Basic client authentication if id
// is not empty.
func (c *Client) Form(url, id, secret string, form url.Values) (int, []byte, error) {
	req, _ := http.NewRequest("POST", url, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if id != "" {
		req.SetBasicAuth(id, secret)
	}
	res, err := c.HTTP.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res.StatusCode, b, err
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
