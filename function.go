package lambada

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/hex"
	"maps"
	"slices"
	"strings"
	"time"
)

// Limits and defaults that AWS documents for functions.
const (
	DefaultTimeout    = 3     // seconds
	MaxTimeout        = 900   // seconds
	DefaultMemorySize = 128   // MB
	MinMemorySize     = 128   // MB
	MaxMemorySize     = 10240 // MB
	MaxFunctionName   = 64    // characters of a plain name, enforced on CreateFunction only

	MaxZippedSize   = 52428800  // bytes of a ZipFile
	MaxUnzippedSize = 262144000 // bytes once unpacked
)

// LatestVersion is the qualifier of a function's mutable, unpublished version.
const LatestVersion = "$LATEST"

// Function is everything stored about one function, as one record: its
// $LATEST configuration (and, as later issues land, its versions, aliases and
// concurrency settings). A *Function returned by a store is shared and must not
// be modified; copy it with Clone first.
type Function struct {
	Name string `json:"name"`
	// Account is the account the function belongs to when it is not the
	// node's own (--account); "" for the node's own.
	Account string         `json:"account,omitempty"`
	Latest  FunctionConfig `json:"latest"`
	// Previous is the $LATEST configuration that invocations run while an
	// update of Latest is being prepared, or after one failed; nil
	// otherwise (see StartUpdate).
	Previous *FunctionConfig `json:"previous,omitempty"`

	// Versions are the published versions, immutable snapshots of Latest,
	// in ascending order of their numbers.
	Versions []FunctionConfig `json:"versions,omitempty"`
	// LastVersion is the highest version number ever published: numbers
	// are never reused, even after a version is deleted.
	LastVersion int `json:"lastVersion,omitempty"`
	// Aliases are sorted by name.
	Aliases []Alias `json:"aliases,omitempty"`
	// ReservedConcurrency is the function's reserved concurrency (all its
	// versions together), or nil when it has none.
	ReservedConcurrency *int `json:"reservedConcurrency,omitempty"`
	// Provisioned are the provisioned concurrency configurations of its
	// versions and aliases, sorted by qualifier.
	Provisioned []ProvisionedConfig `json:"provisioned,omitempty"`
	// Tags are the function's tags (TagResource); nil when it has none.
	Tags map[string]string `json:"tags,omitempty"`
	// EventInvokeConfigs are the asynchronous invocation settings of its
	// qualifiers, sorted by qualifier.
	EventInvokeConfigs []EventInvokeConfig `json:"eventInvokeConfigs,omitempty"`
	// Policies are the resource-based policies (AddPermission) of the
	// function ("") and of its versions and aliases, by qualifier.
	Policies map[string]*ResourcePolicy `json:"policies,omitempty"`

	// Revision is the store's revision of this record, used for
	// compare-and-set writes. Zero means "not stored yet". It is not part of
	// the record's JSON.
	Revision uint64 `json:"-"`
}

// AccountKey is the key of the function (or layer) name of account in a
// node's stores and tables: the name itself for the node's own account
// (own, or ""), "<account>/<name>" for another. No function or layer
// reference holds a "/", so no name of one account reaches a resource of
// another.
func AccountKey(own, account, name string) string {
	if account == "" || account == own {
		return name
	}
	return account + "/" + name
}

// ValidAccountID reports whether s is an AWS account id: 12 digits.
func ValidAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// SplitAccountKey is the account ("" for the node's own) and the name of
// an AccountKey.
func SplitAccountKey(key string) (account, name string) {
	if a, n, ok := strings.Cut(key, "/"); ok {
		return a, n
	}
	return "", key
}

// Key is f's AccountKey.
func (f *Function) Key() string { return AccountKey("", f.Account, f.Name) }

// AccountOr is f's account: Account, or own for the node's own.
func (f *Function) AccountOr(own string) string { return cmp.Or(f.Account, own) }

// Clone returns a deep copy of f.
func (f *Function) Clone() *Function {
	c := *f
	c.Latest = f.Latest.Clone()
	if f.Previous != nil {
		p := f.Previous.Clone()
		c.Previous = &p
	}
	c.Versions = make([]FunctionConfig, len(f.Versions))
	for i, v := range f.Versions {
		c.Versions[i] = v.Clone()
	}
	if f.ReservedConcurrency != nil {
		n := *f.ReservedConcurrency
		c.ReservedConcurrency = &n
	}
	c.Provisioned = slices.Clone(f.Provisioned)
	c.Tags = maps.Clone(f.Tags)
	c.EventInvokeConfigs = make([]EventInvokeConfig, len(f.EventInvokeConfigs))
	for i, e := range f.EventInvokeConfigs {
		c.EventInvokeConfigs[i] = e.Clone()
	}
	c.Aliases = make([]Alias, len(f.Aliases))
	for i, a := range f.Aliases {
		c.Aliases[i] = a.Clone()
	}
	if f.Policies != nil {
		c.Policies = make(map[string]*ResourcePolicy, len(f.Policies))
		for q, p := range f.Policies {
			c.Policies[q] = &ResourcePolicy{Statements: slices.Clone(p.Statements), RevisionID: p.RevisionID}
		}
	}
	return &c
}

// FunctionConfig is the configuration of one version of a function: what an
// execution environment runs, and what GetFunctionConfiguration reports.
type FunctionConfig struct {
	Version     string            `json:"version"` // "$LATEST" or a published number
	Runtime     string            `json:"runtime"`
	Handler     string            `json:"handler"`
	Role        string            `json:"role"`
	Description string            `json:"description"`
	Timeout     int               `json:"timeout"`    // seconds
	MemorySize  int               `json:"memorySize"` // MB
	Environment map[string]string `json:"environment,omitempty"`
	// HasEnvironment is set once a request gave the Environment member,
	// even with no variables: AWS then shows "Environment": {"Variables": {}}.
	HasEnvironment   bool     `json:"hasEnvironment,omitempty"`
	Architectures    []string `json:"architectures,omitempty"`
	EphemeralStorage int      `json:"ephemeralStorage,omitempty"` // MB
	PackageType      string   `json:"packageType,omitempty"`
	// DeadLetterTarget is the ARN of the queue that receives events whose
	// asynchronous invocation failed for good; "" for none.
	DeadLetterTarget string `json:"deadLetterTarget,omitempty"`
	// Logging is the function's LoggingConfig.
	Logging LoggingConfig `json:"logging,omitzero"`

	// PublishedDigest is, for a published version, the ConfigDigest of the
	// $LATEST it snapshotted (its Description may differ from $LATEST's).
	PublishedDigest string `json:"publishedDigest,omitempty"`

	// Status is where the preparation of this configuration stands.
	Status

	CodeSha256   string `json:"codeSha256"`             // base64 of the zip's SHA-256, as AWS reports it
	CodeSize     int64  `json:"codeSize"`               // bytes of the zip
	UnzippedSize int64  `json:"unzippedSize,omitempty"` // bytes of its files (0: not known)
	// Layers are the layers it runs with, in order, at /opt.
	Layers       []FunctionLayer `json:"layers,omitempty"`
	RevisionID   string          `json:"revisionId"`
	LastModified time.Time       `json:"lastModified"`
}

// Clone returns a deep copy of c.
func (c FunctionConfig) Clone() FunctionConfig {
	if c.Environment != nil {
		env := make(map[string]string, len(c.Environment))
		for k, v := range c.Environment {
			env[k] = v
		}
		c.Environment = env
	}
	c.Architectures = append([]string(nil), c.Architectures...)
	if c.Layers != nil {
		c.Layers = append([]FunctionLayer(nil), c.Layers...)
	}
	return c
}

// TotalCodeSize is what f counts towards the account's TotalCodeSize: the
// code of $LATEST and of every published version, each version counted
// even when it shares its archive with $LATEST (as AWS counts it).
func (f *Function) TotalCodeSize() int64 {
	n := f.Latest.CodeSize
	for _, v := range f.Versions {
		n += v.CodeSize
	}
	return n
}

// Configs returns f's $LATEST and its published versions.
func (f *Function) Configs() []*FunctionConfig {
	out := []*FunctionConfig{&f.Latest}
	for i := range f.Versions {
		out = append(out, &f.Versions[i])
	}
	return out
}

// CodeKeys returns the keys of the archives f's configurations run: its
// $LATEST, the configuration an update replaces, its versions.
// With layers, their archives and their merged /opt are keys too.
func (f *Function) CodeKeys() []string {
	var keys []string
	add := func(c *FunctionConfig) {
		keys = append(keys, c.CodeKey())
		if len(c.Layers) > 0 {
			keys = append(append(keys, LayerKeys(c.Layers)...), OptKey(c.Layers))
		}
	}
	add(&f.Latest)
	if f.Previous != nil {
		add(f.Previous)
	}
	for i := range f.Versions {
		add(&f.Versions[i])
	}
	return keys
}

// CodeKey returns the hex SHA-256 of the code archive, the key under which it
// is stored and cached. It is derived from CodeSha256.
func (c FunctionConfig) CodeKey() string { return CodeKey(c.CodeSha256) }

// CodeKey turns AWS's base64 CodeSha256 into the hex form used as a key.
func CodeKey(codeSha256 string) string {
	b, err := base64.StdEncoding.DecodeString(codeSha256)
	if err != nil {
		return ""
	}
	return hex.EncodeToString(b)
}

// FunctionStore keeps function records durably. Implementations: jetstream
// (durable, watched, cached in memory) and inmem (unit tests).
type FunctionStore interface {
	// Function returns the function whose AccountKey is key, or an Error
	// with code ENOTFOUND. It is served from memory: it is on the
	// invocation hot path.
	Function(ctx context.Context, key string) (*Function, error)

	// Functions returns every function of every account, sorted by name
	// (then account).
	Functions(ctx context.Context) ([]*Function, error)

	// PutFunction writes f. When f.Revision is zero the function must not
	// exist yet (ECONFLICT otherwise); otherwise the stored record's revision
	// must still be f.Revision (EPRECONDITION otherwise). It returns the new
	// revision. Once it returns, Function on this node sees the write.
	PutFunction(ctx context.Context, f *Function) (uint64, error)

	// DeleteFunction removes the function whose AccountKey is key, or
	// returns ENOTFOUND.
	DeleteFunction(ctx context.Context, key string) error
}

// CodeStore keeps code archives by the hex SHA-256 of their bytes.
type CodeStore interface {
	// PutCode stores zip under key (its hex SHA-256). Storing the same key
	// twice is not an error; it renews the archive's Stored time.
	PutCode(ctx context.Context, key string, zip []byte) error

	// Code returns the archive stored under key, or ENOTFOUND.
	Code(ctx context.Context, key string) ([]byte, error)

	// StoredCode lists every stored archive.
	StoredCode(ctx context.Context) ([]StoredCode, error)

	// DeleteCode removes the archive stored under key; a missing one is no
	// error.
	DeleteCode(ctx context.Context, key string) error
}

// StoredCode is one archive in a CodeStore.
type StoredCode struct {
	Key    string
	Stored time.Time // when it was last stored
}
