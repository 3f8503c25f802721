package clustertest

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
)

// Issuer is the cluster's one issuer: every node is told it, since a
// node's default (its own listen address) would make the nodes refuse each
// other's access tokens.
const Issuer = "https://tessera.cluster.test"

// Password is the password the helpers give users.
const Password = "correct horse battery staple"

// Cheap keeps password hashing fast for logins in tests; its cost is
// measured by the login benchmark, not here.
var Cheap = []string{"TESSERA_POLICY_PASSWORD_ARGON2_MEMORY_KIB=64", "TESSERA_POLICY_PASSWORD_ARGON2_ITERATIONS=1"}

// Cluster is several nodes on one store, sharing the admin token, the
// master key and the issuer.
type Cluster struct {
	Nodes      []*Node
	AdminToken string
	MasterKey  string // base64, as TESSERA_MASTER_KEY
	*Client
}

// ClusterConfig describes a cluster.
type ClusterConfig struct {
	Binary string
	Dir    string
	Nodes  int
	Store  string // postgres://… URL
	// Env adds settings to every node (after the cluster's own, so they
	// win).
	Env []string
	// Config is a configuration file every node reads (--config); when it
	// is set the cluster leaves the issuer to it.
	Config string
}

// StartCluster starts the nodes together (they migrate the store once,
// under its migration lock) and returns when every one is ready.
func StartCluster(cfg ClusterConfig) (*Cluster, error) {
	var b [24]byte
	rand.Read(b[:])
	admin := "tsx_cluster" + hex.EncodeToString(b[:])
	var k [32]byte
	rand.Read(k[:])
	master := base64.StdEncoding.EncodeToString(k[:])
	env := append([]string{
		"TESSERA_STORE=" + cfg.Store,
		"TESSERA_ADMIN_TOKEN=" + admin,
		"TESSERA_MASTER_KEY=" + master,
	}, Cheap...)
	// Every client of these clusters is 127.0.0.1, as many users behind
	// one NAT address are: the tests present thousands of revoked tokens
	// on purpose, which the per-address probe budget would throttle.
	env = append(env, "TESSERA_POLICY_PROBE_BEARER_PER_IP_BURST=1000000")
	var args []string
	if cfg.Config == "" {
		env = append(env, "TESSERA_POLICY_TOKENS_ISSUER="+Issuer)
	} else {
		args = []string{"--config", cfg.Config}
	}
	env = append(env, cfg.Env...)
	nc := NodeConfig{Binary: cfg.Binary, Dir: cfg.Dir, Env: env, Args: args}
	c := &Cluster{Nodes: make([]*Node, cfg.Nodes), AdminToken: admin, MasterKey: master, Client: NewClient(admin)}
	errs := make([]error, cfg.Nodes)
	var wg sync.WaitGroup
	for i := range cfg.Nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.Nodes[i], errs[i] = StartNode(nc, string(rune('a'+i)))
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// Close kills every node.
func (c *Cluster) Close() {
	for _, n := range c.Nodes {
		if n != nil {
			n.Close()
		}
	}
	c.HTTP.CloseIdleConnections()
}

// Logs returns every node's log so far.
func (c *Cluster) Logs() string {
	var sb strings.Builder
	for _, n := range c.Nodes {
		if n == nil {
			continue
		}
		b, _ := os.ReadFile(n.LogFile())
		fmt.Fprintf(&sb, "--- node %s (%s)\n%s", n.Name, n.LogFile(), b)
	}
	return sb.String()
}

// AddUser creates a user through the admin API of node n and returns its id.
func (c *Cluster) AddUser(n *Node, name string) (string, error) {
	code, b, err := c.Admin("POST", n.Admin+"/admin/v1/users", `{"username":"`+name+`","password":"`+Password+`"}`)
	if err != nil {
		return "", err
	}
	if code != 201 {
		return "", fmt.Errorf("add user: %d %s", code, b)
	}
	var id struct{ ID string }
	if err := jsonUnmarshal(b, &id); err != nil {
		return "", err
	}
	return id.ID, nil
}

// AddClient registers a confidential client with the client_credentials
// grant, allowed to introspect and to read the revocation feed, through
// node n.
func (c *Cluster) AddClient(n *Node, name string) (id, secret string, err error) {
	code, b, err := c.Admin("POST", n.Admin+"/admin/v1/clients", `{"name":"`+name+`","grants":["client_credentials"],"introspect":true,"revocation_feed":true}`)
	if err != nil {
		return "", "", err
	}
	if code != 201 {
		return "", "", fmt.Errorf("add client: %d %s", code, b)
	}
	var cl struct {
		ID     string `json:"client_id"`
		Secret string `json:"client_secret"`
	}
	err = jsonUnmarshal(b, &cl)
	return cl.ID, cl.Secret, err
}
