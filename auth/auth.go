// Package auth holds who may call a node (lambada serve --auth FILE): each
// principal's access key, secret, account, ARN and identity-based
// policies, read from a JSON file and read again on demand (SIGHUP).
package auth

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lambada-dev/lambada"
	"github.com/lambada-dev/lambada/iam"
	"github.com/lambada-dev/lambada/sigv4"
)

// Principal is one caller: a user or a role.
type Principal struct {
	AccessKeyID     string
	SecretAccessKey string
	Account         string
	ARN             string
	Policies        []iam.Policy
}

// file is the --auth file's shape.
type file struct {
	Principals []struct {
		AccessKeyID     string            `json:"accessKeyId"`
		SecretAccessKey string            `json:"secretAccessKey"`
		Account         string            `json:"account"`
		ARN             string            `json:"arn"`
		Policies        []json.RawMessage `json:"policies"`
	} `json:"principals"`
}

// Directory is the principals of a file, by access key id, and the
// temporary credentials issued for its roles. Its methods are safe for
// concurrent use; Reload swaps the file's set at once.
type Directory struct {
	path  string
	keys  atomic.Pointer[principals]
	now   func() time.Time
	mu    sync.Mutex
	temps map[string]*temporary // by access key id
}

// principals are a file's: by access key id, and roles by ARN.
type principals struct {
	keys  map[string]*Principal
	roles map[string]*Principal
}

// temporary is a role's credentials, as issued to an environment.
type temporary struct {
	role    *Principal
	secret  string
	token   string
	expires time.Time
}

// Open reads the principals of the file at path.
func Open(path string) (*Directory, error) {
	d := &Directory{path: path, now: time.Now, temps: map[string]*temporary{}}
	if err := d.Reload(); err != nil {
		return nil, err
	}
	return d, nil
}

// Reload reads the file again; on an error the principals stay as they
// were.
func (d *Directory) Reload() error {
	b, err := os.ReadFile(d.path)
	if err != nil {
		return fmt.Errorf("auth: %w", err)
	}
	ps, err := parse(b)
	if err != nil {
		return fmt.Errorf("auth: %s: %w", d.path, err)
	}
	d.keys.Store(ps)
	return nil
}

// parse reads and checks a file's principals. A role (an ARN of
// ":role/") needs no keys: functions whose execution role it is get
// temporary ones.
func parse(b []byte) (*principals, error) {
	var f file
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, err
	}
	keys, roles := map[string]*Principal{}, map[string]*Principal{}
	for i, p := range f.Principals {
		role := strings.Contains(p.ARN, ":role/")
		switch {
		case (p.AccessKeyID == "" || p.SecretAccessKey == "") && !role:
			return nil, fmt.Errorf("principal %d: accessKeyId and secretAccessKey are needed", i)
		case !lambada.ValidAccountID(p.Account):
			return nil, fmt.Errorf("principal %d: account %q is not 12 digits", i, p.Account)
		case p.ARN == "":
			return nil, fmt.Errorf("principal %d: arn is needed", i)
		case p.AccessKeyID != "" && keys[p.AccessKeyID] != nil:
			return nil, fmt.Errorf("principal %d: access key %s is given twice", i, p.AccessKeyID)
		}
		pr := &Principal{AccessKeyID: p.AccessKeyID, SecretAccessKey: p.SecretAccessKey, Account: p.Account, ARN: p.ARN}
		for j, raw := range p.Policies {
			pol, err := iam.Parse(raw)
			if err != nil {
				return nil, fmt.Errorf("principal %d, policy %d: %w", i, j, err)
			}
			pr.Policies = append(pr.Policies, pol)
		}
		if p.AccessKeyID != "" {
			keys[p.AccessKeyID] = pr
		}
		if role {
			roles[p.ARN] = pr
		}
	}
	return &principals{keys: keys, roles: roles}, nil
}

// Principal returns the principal of an access key id: a file's, or the
// role of temporary credentials still valid.
func (d *Directory) Principal(accessKeyID string) (*Principal, bool) {
	if p, ok := d.keys.Load().keys[accessKeyID]; ok {
		return p, true
	}
	if t := d.temporary(accessKeyID); t != nil {
		return t.role, true
	}
	return nil, false
}

// Role returns the role of the file whose ARN is arn.
func (d *Directory) Role(arn string) (*Principal, bool) {
	p, ok := d.keys.Load().roles[arn]
	return p, ok
}

// Secret implements sigv4.Secrets: the secret of an access key id, and
// the session token that must come with it ("" for a file's keys).
func (d *Directory) Secret(accessKeyID string) (secret, token string, ok bool) {
	if p, ok := d.keys.Load().keys[accessKeyID]; ok {
		return p.SecretAccessKey, "", true
	}
	if t := d.temporary(accessKeyID); t != nil {
		return t.secret, t.token, true
	}
	return "", "", false
}

// temporary returns the temporary credentials of an access key id, if
// they have not expired.
func (d *Directory) temporary(accessKeyID string) *temporary {
	d.mu.Lock()
	defer d.mu.Unlock()
	t := d.temps[accessKeyID]
	if t != nil && !d.now().Before(t.expires) {
		delete(d.temps, accessKeyID)
		return nil
	}
	return t
}

// Credentials are temporary credentials of a role.
type Credentials struct {
	AccessKeyID, SecretAccessKey, SessionToken string
}

// Issue returns new temporary credentials of the role roleARN of the file,
// valid for ttl, and false when the file has no such role. Credentials
// that expired are forgotten then.
func (d *Directory) Issue(roleARN string, ttl time.Duration) (Credentials, bool) {
	role, ok := d.keys.Load().roles[roleARN]
	if !ok {
		return Credentials{}, false
	}
	c := Credentials{AccessKeyID: "ASIA" + strings.ToUpper(random(8)), SecretAccessKey: random(20), SessionToken: random(48)}
	now := d.now()
	d.mu.Lock()
	defer d.mu.Unlock()
	for id, t := range d.temps {
		if !now.Before(t.expires) {
			delete(d.temps, id)
		}
	}
	d.temps[c.AccessKeyID] = &temporary{role: role, secret: c.SecretAccessKey, token: c.SessionToken, expires: now.Add(ttl)}
	return c, true
}

// random is n random bytes in hex.
func random(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Len is how many principals the file has.
func (d *Directory) Len() int {
	ps := d.keys.Load()
	n := len(ps.keys)
	for _, r := range ps.roles {
		if r.AccessKeyID == "" {
			n++
		}
	}
	return n
}

// Authorizer decides requests by their callers' identity-based policies
// (lambdaapi.Authorizer, sqsapi.Authorizer): the caller is the access key
// of the request's signature (sigv4.Caller); a resource belongs to the
// account its ARN names, and "*" to the caller's.
type Authorizer struct {
	Directory *Directory
}

// AuthorizeRole implements lambdaapi.Authorizer: whether the role of the
// file whose ARN is role may perform action on resource, by its
// identity-based policies (a role not in the file may do nothing).
func (a *Authorizer) AuthorizeRole(role, action, resource string) error {
	p, ok := a.Directory.Role(role)
	if !ok {
		return &lambada.Error{Code: lambada.EACCESSDENIED, Message: "no role " + role + " in the principals"}
	}
	req := iam.Request{Principal: p.ARN, PrincipalAccount: p.Account, Action: action, Resource: resource, ResourceAccount: resourceAccount(resource, p.Account)}
	if res := iam.Evaluate(req, p.Policies, nil); res.Decision != iam.Allowed {
		return &lambada.Error{Code: lambada.EACCESSDENIED, Message: res.Message(req)}
	}
	return nil
}

// Account implements lambdaapi.Authorizer: the caller's account, or "" for
// a caller unknown.
func (a *Authorizer) Account(ctx context.Context) string {
	if p, ok := a.Directory.Principal(sigv4.Caller(ctx)); ok {
		return p.Account
	}
	return ""
}

// Authorize implements lambdaapi.Authorizer.
func (a *Authorizer) Authorize(ctx context.Context, action, resource, policy string) error {
	p, ok := a.Directory.Principal(sigv4.Caller(ctx))
	if !ok { // read again without it since the signature was checked
		return &lambada.Error{Code: lambada.EACCESSDENIED, Message: "The security token included in the request is invalid."}
	}
	req := iam.Request{Principal: p.ARN, PrincipalAccount: p.Account, Action: action, Resource: resource, ResourceAccount: resourceAccount(resource, p.Account)}
	var resourcePolicies []iam.Policy
	if policy != "" {
		rp, err := iam.Parse([]byte(policy))
		if err != nil {
			return err
		}
		resourcePolicies = []iam.Policy{rp}
	}
	res := iam.Evaluate(req, p.Policies, resourcePolicies)
	if res.Decision == iam.Allowed {
		return nil
	}
	return &lambada.Error{Code: lambada.EACCESSDENIED, Message: res.Message(req)}
}

// resourceAccount is the account of an ARN (arn:partition:service:region:
// account:…), or caller's for a resource that names none ("*").
func resourceAccount(resource, caller string) string {
	parts := strings.SplitN(resource, ":", 6)
	if len(parts) == 6 && parts[0] == "arn" && parts[4] != "" {
		return parts[4]
	}
	return caller
}
