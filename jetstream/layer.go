package jetstream

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/lambada-dev/lambada"
	natsjs "github.com/nats-io/nats.go/jetstream"
)

var _ lambada.LayerStore = (*LayerStore)(nil)

// publishRetries bounds how often PublishLayerVersion tries to advance a
// layer's counter. Each conflict means another publisher advanced it, so n
// publishers racing on one layer need at most n tries each.
const publishRetries = 64

// LayerStore keeps layer versions in a JetStream key-value bucket, two kinds
// of keys per layer:
//
//	<name>.v<version>  the JSON of lambada.LayerVersion
//	<name>.next        the number the next version gets, in decimal
//
// The counter is advanced by compare-and-set, so that publishers on any node
// sharing the bucket never get the same number, and it outlives the layer's
// versions, so that numbers are never reused. Reads go to the bucket: layers
// are read on the control plane only.
type LayerStore struct {
	kv natsjs.KeyValue
}

// PublishLayerVersion reserves the next number of layer lv.Name, then
// stores lv under it. A publisher that fails between the two leaves a number
// unused. It returns EINVALID for a name that is not [a-zA-Z0-9-_]+.
func (s *LayerStore) PublishLayerVersion(ctx context.Context, lv *lambada.LayerVersion) (int64, error) {
	if !validLayerName(lv.Name) {
		return 0, lambada.Errorf(lambada.EINVALID, "invalid layer name %q", lv.Name)
	}
	version, err := s.reserve(ctx, lv.Name)
	if err != nil {
		return 0, err
	}
	c := *lv
	c.Version = version
	b, err := json.Marshal(&c)
	if err != nil {
		return 0, fmt.Errorf("jetstream: encode layer %s version %d: %w", lv.Name, version, err)
	}
	if _, err := s.kv.Create(ctx, versionKey(lv.Name, version), b); err != nil {
		return 0, fmt.Errorf("jetstream: put layer %s version %d: %w", lv.Name, version, err)
	}
	return version, nil
}

// reserve advances the counter of layer name and returns the number it held.
func (s *LayerStore) reserve(ctx context.Context, name string) (int64, error) {
	key := name + ".next"
	for range publishRetries {
		next := int64(1)
		e, err := s.kv.Get(ctx, key)
		switch {
		case errors.Is(err, natsjs.ErrKeyNotFound):
			_, err = s.kv.Create(ctx, key, []byte("2"))
		case err != nil:
			return 0, fmt.Errorf("jetstream: layer %s: %w", name, err)
		default:
			next, err = strconv.ParseInt(string(e.Value()), 10, 64)
			if err != nil || next < 1 {
				return 0, fmt.Errorf("jetstream: layer %s: next version %q", name, e.Value())
			}
			_, err = s.kv.Update(ctx, key, []byte(strconv.FormatInt(next+1, 10)), e.Revision())
		}
		if err == nil {
			return next, nil
		}
		if !errors.Is(err, natsjs.ErrKeyExists) && !errors.Is(err, natsjs.ErrKeyRevisionMismatch) && !isWrongLastSequence(err) {
			return 0, fmt.Errorf("jetstream: advance layer %s: %w", name, err)
		}
	}
	return 0, fmt.Errorf("jetstream: layer %s: counter changed %d times while publishing", name, publishRetries)
}

// LayerVersion returns version of layer name, or ENOTFOUND.
func (s *LayerStore) LayerVersion(ctx context.Context, name string, version int64) (*lambada.LayerVersion, error) {
	if !validLayerName(name) || version < 1 {
		return nil, layerNotFound(name, version)
	}
	lv, err := s.get(ctx, name, version)
	if errors.Is(err, natsjs.ErrKeyNotFound) {
		return nil, layerNotFound(name, version)
	}
	return lv, err
}

// get reads and decodes version of layer name.
func (s *LayerStore) get(ctx context.Context, name string, version int64) (*lambada.LayerVersion, error) {
	e, err := s.kv.Get(ctx, versionKey(name, version))
	if errors.Is(err, natsjs.ErrKeyNotFound) {
		return nil, err
	} else if err != nil {
		return nil, fmt.Errorf("jetstream: get layer %s version %d: %w", name, version, err)
	}
	lv := new(lambada.LayerVersion)
	if err := json.Unmarshal(e.Value(), lv); err != nil {
		return nil, fmt.Errorf("jetstream: decode layer %s version %d: %w", name, version, err)
	}
	lv.Name, lv.Version = name, version
	return lv, nil
}

// LayerVersions lists the bucket's keys and reads every version in it,
// skipping those deleted meanwhile.
func (s *LayerStore) LayerVersions(ctx context.Context) ([]*lambada.LayerVersion, error) {
	keys, err := s.kv.Keys(ctx)
	if errors.Is(err, natsjs.ErrNoKeysFound) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("jetstream: list layers: %w", err)
	}
	var out []*lambada.LayerVersion
	for _, key := range keys {
		name, version, ok := parseVersionKey(key)
		if !ok {
			continue // a counter
		}
		lv, err := s.get(ctx, name, version)
		if errors.Is(err, natsjs.ErrKeyNotFound) {
			continue
		} else if err != nil {
			return nil, err
		}
		out = append(out, lv)
	}
	slices.SortFunc(out, func(a, b *lambada.LayerVersion) int {
		return cmp.Or(strings.Compare(a.Name, b.Name), cmp.Compare(a.Version, b.Version))
	})
	return out, nil
}

// DeleteLayerVersion purges version of layer name, if stored. The layer's
// counter stays.
func (s *LayerStore) DeleteLayerVersion(ctx context.Context, name string, version int64) error {
	if !validLayerName(name) || version < 1 {
		return nil
	}
	key := versionKey(name, version)
	// Purging a missing key would leave a marker behind.
	if _, err := s.kv.Get(ctx, key); errors.Is(err, natsjs.ErrKeyNotFound) {
		return nil
	} else if err != nil {
		return fmt.Errorf("jetstream: get layer %s version %d: %w", name, version, err)
	}
	if err := s.kv.Purge(ctx, key); err != nil {
		return fmt.Errorf("jetstream: delete layer %s version %d: %w", name, version, err)
	}
	return nil
}

func versionKey(name string, version int64) string {
	return name + ".v" + strconv.FormatInt(version, 10)
}

// parseVersionKey splits a key made by versionKey; ok is false for any other
// key.
func parseVersionKey(key string) (name string, version int64, ok bool) {
	name, v, ok := strings.Cut(key, ".v")
	if !ok {
		return "", 0, false
	}
	version, err := strconv.ParseInt(v, 10, 64)
	return name, version, err == nil && version > 0
}

// validLayerName reports whether name is an AccountKey of a layer name of
// [a-zA-Z0-9-_]+ (after "<12 digits>/" for another account): it holds no ".", so
// that keys split back into name and version. The API's checks
// (lambada.ValidLayerName) also take layer ARNs; callers resolve those to
// names first.
func validLayerName(name string) bool {
	account, name := lambada.SplitAccountKey(name)
	return validToken(name) && (account == "" || lambada.ValidAccountID(account))
}

// validToken reports whether s is [a-zA-Z0-9-_]+.
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		switch {
		case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', '0' <= r && r <= '9', r == '-', r == '_':
		default:
			return false
		}
	}
	return true
}

func layerNotFound(name string, version int64) error {
	return lambada.Errorf(lambada.ENOTFOUND, "layer %s version %d not found", name, version)
}
