// Package auth holds who may call a node (lambada serve --auth FILE): each
// principal's access key, secret, account, ARN and identity-based
// policies, read from a JSON file and read again on demand (SIGHUP).
package auth

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"sync/atomic"

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

var accountRE = regexp.MustCompile(`^\d{12}$`)

// Directory is the principals of a file, by access key id. Its methods are
// safe for concurrent use; Reload swaps the whole set at once.
type Directory struct {
	path string
	keys atomic.Pointer[map[string]*Principal]
}

// Open reads the principals of the file at path.
func Open(path string) (*Directory, error) {
	d := &Directory{path: path}
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
	keys, err := parse(b)
	if err != nil {
		return fmt.Errorf("auth: %s: %w", d.path, err)
	}
	d.keys.Store(&keys)
	return nil
}

// parse reads and checks a file's principals.
func parse(b []byte) (map[string]*Principal, error) {
	var f file
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, err
	}
	keys := map[string]*Principal{}
	for i, p := range f.Principals {
		switch {
		case p.AccessKeyID == "" || p.SecretAccessKey == "":
			return nil, fmt.Errorf("principal %d: accessKeyId and secretAccessKey are needed", i)
		case !accountRE.MatchString(p.Account):
			return nil, fmt.Errorf("principal %d: account %q is not 12 digits", i, p.Account)
		case p.ARN == "":
			return nil, fmt.Errorf("principal %d: arn is needed", i)
		case keys[p.AccessKeyID] != nil:
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
		keys[p.AccessKeyID] = pr
	}
	return keys, nil
}

// Principal returns the principal of an access key id.
func (d *Directory) Principal(accessKeyID string) (*Principal, bool) {
	p, ok := (*d.keys.Load())[accessKeyID]
	return p, ok
}

// Secret implements sigv4.Secrets.
func (d *Directory) Secret(accessKeyID string) (string, bool) {
	p, ok := d.Principal(accessKeyID)
	if !ok {
		return "", false
	}
	return p.SecretAccessKey, true
}

// Len is how many principals there are.
func (d *Directory) Len() int { return len(*d.keys.Load()) }

// Authorizer decides requests by their callers' identity-based policies
// (lambdaapi.Authorizer): the caller is the access key of the request's
// signature (sigv4.Caller); the resources are account's.
type Authorizer struct {
	Directory *Directory
	Account   string
}

// Authorize implements lambdaapi.Authorizer.
func (a *Authorizer) Authorize(ctx context.Context, action, resource, policy string) error {
	p, ok := a.Directory.Principal(sigv4.Caller(ctx))
	if !ok { // read again without it since the signature was checked
		return &lambada.Error{Code: lambada.EACCESSDENIED, Message: "The security token included in the request is invalid."}
	}
	req := iam.Request{Principal: p.ARN, PrincipalAccount: p.Account, Action: action, Resource: resource, ResourceAccount: a.Account}
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
