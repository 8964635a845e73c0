package lambdaapi

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/lambada-dev/lambada"
)

// Paging of the list operations (ListFunctions, ListVersionsByFunction,
// ListAliases, ListProvisionedConcurrencyConfigs): a Marker is the base64 of
// the last position returned.

// Paging limits of ListFunctions: MaxItems may be up to 10000, but AWS
// returns at most 50 functions a page whatever it says.
const (
	defaultMaxItems = 50
	maxMaxItems     = 10000
)

// parseMaxItems returns the page size a list operation's MaxItems asks for:
// AWS accepts 1 to 10000 but answers at most 50 items a page.
func parseMaxItems(v *lambada.Validation, q url.Values) int {
	return parseMaxItemsUpTo(v, q, maxMaxItems)
}

// parseMaxItemsUpTo is parseMaxItems for an operation whose MaxItems is at
// most limit.
func parseMaxItemsUpTo(v *lambada.Validation, q url.Values, limit int) int {
	mi, ok := q["MaxItems"]
	if !ok {
		return defaultMaxItems
	}
	n, err := strconv.Atoi(mi[0])
	switch {
	case err != nil:
		v.Add(mi[0], "maxItems", "Member must be an integer")
	case n < 1:
		v.Add(mi[0], "maxItems", "Member must have value greater than or equal to 1")
	case n > limit:
		v.Add(mi[0], "maxItems", fmt.Sprintf("Member must have value less than or equal to %d", limit))
	}
	return min(max(n, 1), defaultMaxItems)
}

// parseMarker decodes a list operation's Marker, the position after which
// the page starts; "" starts at the beginning.
func parseMarker(q url.Values) (string, error) {
	m := q.Get("Marker")
	if m == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(m)
	if err != nil || len(b) == 0 {
		return "", lambada.Errorf(lambada.EINVALID, "Invalid Marker: %s", m)
	}
	return string(b), nil
}

// encodeMarker makes the opaque NextMarker of a position.
func encodeMarker(position string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(position))
}

// functionPage parses a list operation over one function's items: the
// {name} of a function, MaxItems (at most limit), the request's own members
// (validate, which may be nil) and the Marker. It returns the function, the
// position after which the page starts and the page's size.
func (s *Server) functionPage(r *http.Request, limit int, validate func(*lambada.Validation)) (*lambada.Function, string, int, error) {
	q := r.URL.Query()
	var v lambada.Validation
	ref, refErr := s.parseUpdateRef(&v, r)
	if validate != nil {
		validate(&v)
	}
	maxItems := parseMaxItemsUpTo(&v, q, limit)
	if err := v.Err(); err != nil {
		return nil, "", 0, err
	}
	if refErr != nil {
		return nil, "", 0, refErr
	}
	after, err := parseMarker(q)
	if err != nil {
		return nil, "", 0, err
	}
	f, err := s.lookup(r.Context(), ref.Name, "")
	if err != nil {
		return nil, "", 0, err
	}
	return f, after, maxItems, nil
}

// page returns the items of a list sorted by key that come after the
// position after and that keep accepts (nil: all), at most size of them,
// and the NextMarker when more remain.
func page[T any](items []T, key func(*T) string, after string, size int, keep func(*T) bool) ([]*T, string) {
	var out []*T
	for i := range items {
		it := &items[i]
		if key(it) <= after || (keep != nil && !keep(it)) {
			continue
		}
		if len(out) == size {
			return out, encodeMarker(key(out[size-1]))
		}
		out = append(out, it)
	}
	return out, ""
}
