package lambada

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// MaxLayers is how many layers a function may reference.
const MaxLayers = 5

// LayerVersion is one published version of a layer: its archive, stored in
// the CodeStore by the hex SHA-256 of its bytes, and what PublishLayerVersion
// was given. A nil CompatibleRuntimes or CompatibleArchitectures was not
// given (AWS then leaves the field out); an empty one was given empty.
type LayerVersion struct {
	// Name is the layer's AccountKey: its name, after "<account>/" for an
	// account other than the node's own.
	Name                    string    `json:"name"`
	Version                 int64     `json:"version"`
	Description             string    `json:"description"`
	LicenseInfo             *string   `json:"licenseInfo,omitempty"`
	CompatibleRuntimes      []string  `json:"compatibleRuntimes"`
	CompatibleArchitectures []string  `json:"compatibleArchitectures"`
	CodeKey                 string    `json:"codeKey"`      // hex SHA-256 of the archive
	CodeSize                int64     `json:"codeSize"`     // bytes of the archive
	UnzippedSize            int64     `json:"unzippedSize"` // bytes of its files
	Created                 time.Time `json:"created"`
}

// LayerStore keeps layer versions durably. Implementations: jetstream and
// inmem.
type LayerStore interface {
	// PublishLayerVersion stores lv as the next version of layer lv.Name
	// and returns its number: one more than any version the layer ever
	// had, deleted ones included (1 for a new layer). lv.Version is
	// ignored.
	PublishLayerVersion(ctx context.Context, lv *LayerVersion) (int64, error)

	// LayerVersion returns version of layer name, or ENOTFOUND.
	LayerVersion(ctx context.Context, name string, version int64) (*LayerVersion, error)

	// LayerVersions returns every version of every layer that is not
	// deleted, sorted by layer name, then by version.
	LayerVersions(ctx context.Context) ([]*LayerVersion, error)

	// DeleteLayerVersion deletes version of layer name; a missing one is
	// no error.
	DeleteLayerVersion(ctx context.Context, name string, version int64) error
}

// Layer patterns and limits, as AWS prints them.
const (
	// LayerNamePattern is LayerName's (a name, or a layer's ARN).
	LayerNamePattern = `(arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\d{12}:layer:[a-zA-Z0-9-_]+)|[a-zA-Z0-9-_]+`
	// LayerVersionARNPattern is GetLayerVersionByArn's Arn's.
	LayerVersionARNPattern = `arn:(aws[a-zA-Z-]*)?:lambda:[a-z]{2}((-gov)|(-iso(b?)))?-[a-z]+-\d{1}:\d{12}:layer:[a-zA-Z0-9-_]+:[0-9]+`
	// FunctionLayerPattern is the pattern of each of a function's Layers.
	FunctionLayerPattern = `(arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\d{12}:layer:[a-zA-Z0-9-_]+:[0-9]+)|(arn:[a-zA-Z0-9-]+:lambda:::awslayer:[a-zA-Z0-9-_]+)`

	MaxLayerName          = 140
	MaxLayerDescription   = 256
	MaxLicenseInfo        = 512
	MaxCompatibleRuntimes = 15
)

var (
	layerNameRE       = regexp.MustCompile(`^(?:` + LayerNamePattern + `)$`)
	layerVersionARNRE = regexp.MustCompile(`^(?:` + LayerVersionARNPattern + `)$`)
	functionLayerRE   = regexp.MustCompile(`^(?:` + FunctionLayerPattern + `)$`)
)

// LayerARN is the ARN of layer name.
func LayerARN(region, account, name string) string {
	return "arn:aws:lambda:" + region + ":" + account + ":layer:" + name
}

// LayerVersionARN is the ARN of version of layer name.
func LayerVersionARN(region, account, name string, version int64) string {
	return LayerARN(region, account, name) + ":" + strconv.FormatInt(version, 10)
}

// ValidLayerName reports whether s is a LayerName: a name, or a layer ARN
// without a version.
func ValidLayerName(s string) bool { return len(s) <= MaxLayerName && layerNameRE.MatchString(s) }

// ValidLayerVersionARN reports whether s is GetLayerVersionByArn's Arn.
func ValidLayerVersionARN(s string) bool {
	return len(s) <= MaxLayerName && layerVersionARNRE.MatchString(s)
}

// ValidFunctionLayer reports whether s is one of a function's Layers.
func ValidFunctionLayer(s string) bool {
	return len(s) >= 1 && len(s) <= MaxLayerName && functionLayerRE.MatchString(s)
}

// LayerVersionRef is a layer version's ARN taken apart.
type LayerVersionRef struct {
	Region, Account, Name string
	Version               int64
}

// ParseLayerVersionARN takes a layer version ARN apart (false: it is not
// one).
func ParseLayerVersionARN(arn string) (LayerVersionRef, bool) {
	parts := strings.Split(arn, ":")
	if len(parts) != 8 || parts[0] != "arn" || parts[2] != "lambda" || parts[5] != "layer" {
		return LayerVersionRef{}, false
	}
	v, err := strconv.ParseInt(parts[7], 10, 64)
	if err != nil {
		return LayerVersionRef{}, false
	}
	return LayerVersionRef{Region: parts[3], Account: parts[4], Name: parts[6], Version: v}, true
}

// LayerName returns the name of a LayerName, which may be a layer's ARN.
func LayerName(s string) string {
	if i := strings.LastIndex(s, ":layer:"); i >= 0 {
		return s[i+len(":layer:"):]
	}
	return s
}

// FunctionLayer is one layer a function configuration runs with: the
// version's ARN, and its archive as it was when the configuration took it
// (a function keeps a layer version deleted since).
type FunctionLayer struct {
	Arn          string `json:"arn"`
	CodeSize     int64  `json:"codeSize"`
	CodeKey      string `json:"codeKey"`
	UnzippedSize int64  `json:"unzippedSize"`
}

// OptKey returns the key of the merged contents of layers, in order (later
// ones over earlier ones), as unpacked at /opt: "" without layers.
func OptKey(layers []FunctionLayer) string {
	if len(layers) == 0 {
		return ""
	}
	h := sha256.New()
	h.Write([]byte("opt"))
	for _, l := range layers {
		h.Write([]byte{0})
		h.Write([]byte(l.CodeKey))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// LayerKeys returns the archive keys of layers, in order.
func LayerKeys(layers []FunctionLayer) []string {
	keys := make([]string, len(layers))
	for i, l := range layers {
		keys[i] = l.CodeKey
	}
	return keys
}
