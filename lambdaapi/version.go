package lambdaapi

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/google/uuid"
	"github.com/lambada-dev/lambada"
)

// routeVersions registers PublishVersion and ListVersionsByFunction.
func (s *Server) routeVersions(handle func(string, func(http.ResponseWriter, *http.Request) error)) {
	handle("POST /2015-03-31/functions/{name}/versions", s.publishVersion)
	handle("GET /2015-03-31/functions/{name}/versions", s.listVersions)
}

// publishVersionRequest is PublishVersion's body. PublishTo (for Lambda
// Managed Instances) is not read.
type publishVersionRequest struct {
	CodeSha256  string
	Description *string
	RevisionId  string
}

type listVersionsResponse struct {
	Versions   []*functionConfiguration `json:"Versions"`
	NextMarker string                   `json:"NextMarker,omitempty"`
}

// publish snapshots f.Latest as the next version of f, a copy the caller
// owns, and returns it. When $LATEST has not changed since the newest
// version was published, it returns that version and false instead: AWS
// publishes nothing then, whatever the description. description, when not
// nil, is the new version's; else it keeps $LATEST's.
func (s *Server) publish(f *lambada.Function, description *string) (*lambada.FunctionConfig, bool) {
	digest := f.Latest.ConfigDigest()
	if n := len(f.Versions); n > 0 && f.Versions[n-1].PublishedDigest == digest {
		return &f.Versions[n-1], false
	}
	f.LastVersion++
	v := f.Latest.Clone()
	v.Version = strconv.Itoa(f.LastVersion)
	v.PublishedDigest = digest
	v.Status = f.Latest.Status.Published()
	if description != nil {
		v.Description = *description
	}
	s.touch(&v)
	f.Versions = append(f.Versions, v)
	return &f.Versions[len(f.Versions)-1], true
}

// publishVersion handles PublishVersion:
// POST /2015-03-31/functions/{name}/versions. It answers 201 with the new
// version, or with the newest one when nothing changed. A new version also
// changes $LATEST's RevisionId.
func (s *Server) publishVersion(w http.ResponseWriter, r *http.Request) error {
	var req publishVersionRequest
	if err := decodeBody(r, "PublishVersion", &req); err != nil {
		return err
	}
	var v lambada.Validation
	ref, refErr := s.parseUpdateRef(&v, r)
	validateDescription(&v, req.Description)
	if err := v.Err(); err != nil {
		return err
	}
	if refErr != nil {
		return refErr
	}
	var out lambada.FunctionConfig
	f, err := s.mutate(r.Context(), ref.Name, "", func(f *lambada.Function) error {
		if err := s.checkUpdatable(f, req.RevisionId); err != nil {
			return err
		}
		if req.CodeSha256 != "" && req.CodeSha256 != f.Latest.CodeSha256 {
			return lambada.Errorf(lambada.EINVALID, "CodeSHA256 (%s) is different from current CodeSHA256 in $LATEST (%s). Please try again with the CodeSHA256 in $LATEST.", req.CodeSha256, f.Latest.CodeSha256)
		}
		published, changed := s.publish(f, req.Description)
		out = published.Clone()
		if !changed {
			return errUnchanged
		}
		f.Latest.RevisionID = uuid.NewString()
		return nil
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, s.render(f, &out, out.Version, viewFull))
}

// listVersions handles ListVersionsByFunction:
// GET /2015-03-31/functions/{name}/versions. It lists $LATEST (qualified)
// first, then the versions by number. A Marker is the base64 of the last
// version returned.
func (s *Server) listVersions(w http.ResponseWriter, r *http.Request) error {
	var v lambada.Validation
	ref, _ := lambada.ParseFunctionRef(&v, r.PathValue("name"), nil)
	maxItems := parseMaxItems(&v, r.URL.Query())
	if err := v.Err(); err != nil {
		return err
	}
	if err := ref.CheckRegion(s.Region, s.account(r.Context())); err != nil {
		return err
	}
	marker, err := parseMarker(r.URL.Query())
	if err != nil {
		return err
	}
	f, err := s.lookup(r.Context(), ref.Name, "")
	if err != nil {
		return err
	}
	after := -1
	if marker != "" {
		after = versionRank(marker)
	}
	out := listVersionsResponse{Versions: []*functionConfiguration{}}
	configs := []*lambada.FunctionConfig{&f.Latest}
	for i := range f.Versions {
		configs = append(configs, &f.Versions[i])
	}
	for _, c := range configs {
		if versionRank(c.Version) <= after {
			continue
		}
		if len(out.Versions) == maxItems {
			out.NextMarker = encodeMarker(out.Versions[maxItems-1].Version)
			break
		}
		out.Versions = append(out.Versions, s.render(f, c, c.Version, viewListed))
	}
	return writeJSON(w, http.StatusOK, &out)
}

// validateDescription adds the violation of a Description member to v.
func validateDescription(v *lambada.Validation, d *string) {
	if d != nil && len(*d) > lambada.MaxDescription {
		v.Add(*d, "description", fmt.Sprintf("Member must have length less than or equal to %d", lambada.MaxDescription))
	}
}
