package lambdaapi

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"

	"github.com/lambada-dev/lambada"
)

// codePath is where GetFunction's Code.Location points: Lambada serves the
// archives itself, by their hex SHA-256.
const codePath = "/lambada/code/"

// Paging limits of ListFunctions: MaxItems may be up to 10000, but AWS
// returns at most 50 functions a page whatever it says.
const (
	defaultMaxItems = 50
	maxMaxItems     = 10000
)

type getFunctionResponse struct {
	Configuration *functionConfiguration `json:"Configuration"`
	Code          functionCodeLocation   `json:"Code"`
}

type functionCodeLocation struct {
	RepositoryType string `json:"RepositoryType"`
	Location       string `json:"Location"`
}

type listFunctionsResponse struct {
	Functions  []*functionConfiguration `json:"Functions"`
	NextMarker string                   `json:"NextMarker,omitempty"`
}

// getLatest resolves the request's function and qualifier. Until versions
// exist only $LATEST does: any other qualifier is not found.
func (s *Server) getLatest(r *http.Request) (*lambada.Function, lambada.FunctionRef, error) {
	ref, err := s.parseRef(r)
	if err != nil {
		return nil, ref, err
	}
	if ref.Qualifier != "" && ref.Qualifier != lambada.LatestVersion {
		return nil, ref, s.notFound(ref.Name, ref.Qualifier)
	}
	f, err := s.lookup(r.Context(), ref.Name, ref.Qualifier)
	return f, ref, err
}

// getFunction handles GetFunction: GET /2015-03-31/functions/{name}.
func (s *Server) getFunction(w http.ResponseWriter, r *http.Request) error {
	f, ref, err := s.getLatest(r)
	if err != nil {
		return err
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	host := r.Host
	if host == "" {
		host = "localhost"
	}
	return writeJSON(w, http.StatusOK, &getFunctionResponse{
		Configuration: s.configuration(f, ref.Qualifier, statusActive),
		Code: functionCodeLocation{
			RepositoryType: "S3",
			Location:       scheme + "://" + host + codePath + f.Latest.CodeKey(),
		},
	})
}

// getFunctionConfiguration handles GetFunctionConfiguration:
// GET /2015-03-31/functions/{name}/configuration.
func (s *Server) getFunctionConfiguration(w http.ResponseWriter, r *http.Request) error {
	f, ref, err := s.getLatest(r)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, s.configuration(f, ref.Qualifier, statusActive))
}

// listFunctions handles ListFunctions: GET /2015-03-31/functions. Markers
// are opaque to clients: the base64 of the last name returned.
func (s *Server) listFunctions(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	var v lambada.Validation
	all := false
	if fv, ok := q["FunctionVersion"]; ok {
		if fv[0] != "ALL" {
			v.Add(fv[0], "functionVersion", "Member must satisfy enum value set: [ALL]")
		}
		all = true
	}
	maxItems := defaultMaxItems
	if mi, ok := q["MaxItems"]; ok {
		n, err := strconv.Atoi(mi[0])
		switch {
		case err != nil:
			v.Add(mi[0], "maxItems", "Member must be an integer")
		case n < 1:
			v.Add(mi[0], "maxItems", "Member must have value greater than or equal to 1")
		case n > maxMaxItems:
			v.Add(mi[0], "maxItems", fmt.Sprintf("Member must have value less than or equal to %d", maxMaxItems))
		default:
			maxItems = min(n, defaultMaxItems)
		}
	}
	if err := v.Err(); err != nil {
		return err
	}
	after := ""
	if m := q.Get("Marker"); m != "" {
		b, err := base64.RawURLEncoding.DecodeString(m)
		if err != nil || len(b) == 0 {
			return lambada.Errorf(lambada.EINVALID, "Invalid Marker: %s", m)
		}
		after = string(b)
	}

	fns, err := s.Functions.Functions(r.Context())
	if err != nil {
		return fmt.Errorf("list functions: %w", err)
	}
	qualifier := ""
	if all {
		qualifier = lambada.LatestVersion // only $LATEST exists yet
	}
	out := listFunctionsResponse{Functions: []*functionConfiguration{}}
	for _, f := range fns { // sorted by name
		if f.Name <= after {
			continue
		}
		if len(out.Functions) == maxItems {
			out.NextMarker = base64.RawURLEncoding.EncodeToString([]byte(out.Functions[maxItems-1].FunctionName))
			break
		}
		out.Functions = append(out.Functions, s.configuration(f, qualifier, statusListed))
	}
	return writeJSON(w, http.StatusOK, &out)
}

// downloadCode serves a code archive: GET /lambada/code/{key}, the
// Code.Location of GetFunction.
func (s *Server) downloadCode(w http.ResponseWriter, r *http.Request) error {
	key := r.PathValue("key")
	if b, err := hex.DecodeString(key); err != nil || len(b) != 32 {
		return lambada.Errorf(lambada.ENOTFOUND, "The resource you requested does not exist.")
	}
	zip, err := s.Code.Code(r.Context(), key)
	if lambada.ErrorCode(err) == lambada.ENOTFOUND {
		return lambada.Errorf(lambada.ENOTFOUND, "The resource you requested does not exist.")
	} else if err != nil {
		return fmt.Errorf("read code %s: %w", key, err)
	}
	w.Header().Set("Content-Type", "application/zip")
	w.Header().Set("Content-Length", strconv.Itoa(len(zip)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(zip)
	return nil
}
