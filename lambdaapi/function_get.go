package lambdaapi

import (
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/lambada-dev/lambada"
)

// CodePath is where GetFunction's Code.Location points: Lambada serves the
// archives itself, by their hex SHA-256.
const CodePath = "/lambada/code/"

type getFunctionResponse struct {
	Configuration *functionConfiguration `json:"Configuration"`
	Code          functionCodeLocation   `json:"Code"`
	Concurrency   *concurrencyBody       `json:"Concurrency,omitempty"`
	Tags          map[string]string      `json:"Tags,omitempty"`
}

type functionCodeLocation struct {
	RepositoryType string `json:"RepositoryType"`
	Location       string `json:"Location"`
}

type listFunctionsResponse struct {
	Functions  []*functionConfiguration `json:"Functions"`
	NextMarker string                   `json:"NextMarker,omitempty"`
}

// getQualified resolves the request's function and qualifier to the
// configuration the Get operations report, and the qualifier its FunctionArn
// carries.
func (s *Server) getQualified(r *http.Request) (*lambada.Function, *lambada.FunctionConfig, string, error) {
	ref, err := s.parseRef(r)
	if err != nil {
		return nil, nil, "", err
	}
	f, err := s.lookup(r.Context(), ref.Name, ref.Qualifier)
	if err != nil {
		return nil, nil, "", err
	}
	c, err := s.qualified(f, ref.Qualifier)
	return f, c, ref.Qualifier, err
}

// qualified returns the configuration of f that qualifier names: $LATEST
// for "" or "$LATEST", a published version for a number, and for an alias
// the version it points to (not its weighted routing).
func (s *Server) qualified(f *lambada.Function, qualifier string) (*lambada.FunctionConfig, error) {
	v := qualifier
	if a := f.Alias(qualifier); a != nil {
		v = a.FunctionVersion
	}
	if v == "" || v == lambada.LatestVersion {
		return &f.Latest, nil
	}
	if lambada.IsVersionNumber(v) {
		if c := f.Version(v); c != nil {
			return c, nil
		}
	}
	return nil, s.notFoundIn(f, qualifier)
}

// getFunction handles GetFunction: GET /2015-03-31/functions/{name}.
func (s *Server) getFunction(w http.ResponseWriter, r *http.Request) error {
	f, c, qualifier, err := s.getQualified(r)
	if err != nil {
		return err
	}
	out := &getFunctionResponse{
		Configuration: s.render(f, c, qualifier, viewFull),
		Code: functionCodeLocation{
			RepositoryType: "S3",
			Location:       s.codeLink(r, f.Key(), c),
		},
	}
	if f.ReservedConcurrency != nil {
		out.Concurrency = &concurrencyBody{ReservedConcurrentExecutions: f.ReservedConcurrency}
	}
	if len(f.Tags) > 0 {
		out.Tags = f.Tags
	}
	return writeJSON(w, http.StatusOK, out)
}

// getFunctionConfiguration handles GetFunctionConfiguration:
// GET /2015-03-31/functions/{name}/configuration.
func (s *Server) getFunctionConfiguration(w http.ResponseWriter, r *http.Request) error {
	f, c, qualifier, err := s.getQualified(r)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, s.render(f, c, qualifier, viewFull))
}

// listFunctions handles ListFunctions: GET /2015-03-31/functions. With
// FunctionVersion=ALL it lists every function's $LATEST (qualified) and
// then its versions. Markers are opaque to clients: the base64 of the last
// name returned, with ":<version>" under ALL.
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
	maxItems := parseMaxItems(&v, q)
	if err := v.Err(); err != nil {
		return err
	}
	marker, err := parseMarker(q)
	if err != nil {
		return err
	}
	afterName, afterVersion, _ := strings.Cut(marker, ":")
	after := versionRank(afterVersion)

	fns, err := s.functions(r.Context())
	if err != nil {
		return fmt.Errorf("list functions: %w", err)
	}
	out := listFunctionsResponse{Functions: []*functionConfiguration{}}
	last := ""
	for _, f := range fns { // sorted by name
		if f.Name < afterName {
			continue
		}
		configs := []*lambada.FunctionConfig{&f.Latest}
		if all {
			for i := range f.Versions {
				configs = append(configs, &f.Versions[i])
			}
		}
		for _, c := range configs {
			if f.Name == afterName && (!all || versionRank(c.Version) <= after) {
				continue
			}
			if len(out.Functions) == maxItems {
				out.NextMarker = encodeMarker(last)
				return writeJSON(w, http.StatusOK, &out)
			}
			qualifier := ""
			last = f.Name
			if all {
				qualifier, last = c.Version, f.Name+":"+c.Version
			}
			out.Functions = append(out.Functions, s.render(f, c, qualifier, viewListed))
		}
	}
	return writeJSON(w, http.StatusOK, &out)
}

// versionRank orders the versions of a function: $LATEST first, then the
// published versions by number.
func versionRank(v string) int {
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0
	}
	return n
}

// downloadCode serves a code archive: GET /lambada/code/{key}?function=…,
// the Code.Location of GetFunction, while its link is valid and the
// function still uses the archive.
func (s *Server) downloadCode(w http.ResponseWriter, r *http.Request) error {
	key := r.PathValue("key")
	if b, err := hex.DecodeString(key); err != nil || len(b) != 32 {
		return errNoCode
	}
	if err := s.checkCodeLink(r, key); err != nil {
		return err
	}
	zip, err := s.Code.Code(r.Context(), key)
	if lambada.ErrorCode(err) == lambada.ENOTFOUND {
		return errNoCode
	} else if err != nil {
		return fmt.Errorf("read code %s: %w", key, err)
	}
	w.Header().Set("Content-Type", "application/zip")
	w.Header().Set("Content-Length", strconv.Itoa(len(zip)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(zip)
	return nil
}
