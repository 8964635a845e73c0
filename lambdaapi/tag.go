package lambdaapi

import (
	"net/http"

	"github.com/google/uuid"
	"github.com/lambada-dev/lambada"
)

type tagsBody struct {
	Tags map[string]string `json:"Tags"`
}

// routeTags registers TagResource, UntagResource and ListTags.
func (s *Server) routeTags(handle func(string, func(http.ResponseWriter, *http.Request) error)) {
	handle("POST /2017-03-31/tags/{arn}", s.tagResource)
	handle("DELETE /2017-03-31/tags/{arn}", s.untagResource)
	handle("GET /2017-03-31/tags/{arn}", s.listTags)
}

// taggedFunction parses the {arn} of the tag operations: a function ARN of
// this region and account.
func (s *Server) taggedFunction(r *http.Request) (lambada.FunctionRef, error) {
	ref, err := lambada.ParseTaggable(r.PathValue("arn"))
	if err != nil {
		return ref, err
	}
	return ref, ref.CheckRegion(s.Region, s.account(r.Context()))
}

// retag applies change to the tags of the function named name and answers
// 204. Every change of tags is a new revision of $LATEST, as on AWS.
func (s *Server) retag(w http.ResponseWriter, r *http.Request, name string, change func(*lambada.Function) error) error {
	_, err := s.mutate(r.Context(), name, "", func(f *lambada.Function) error {
		if err := change(f); err != nil {
			return err
		}
		f.Latest.RevisionID = uuid.NewString()
		return nil
	})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// tagResource handles TagResource: POST /2017-03-31/tags/{arn}.
func (s *Server) tagResource(w http.ResponseWriter, r *http.Request) error {
	ref, err := s.taggedFunction(r)
	if err != nil {
		return err
	}
	var body tagsBody
	if err := decodeBody(r, "TagResource", &body); err != nil {
		return err
	}
	return s.retag(w, r, ref.Name, func(f *lambada.Function) error { return f.Tag(body.Tags) })
}

// untagResource handles UntagResource: DELETE /2017-03-31/tags/{arn}
// ?tagKeys=…; keys the function does not have are ignored.
func (s *Server) untagResource(w http.ResponseWriter, r *http.Request) error {
	ref, err := s.taggedFunction(r)
	if err != nil {
		return err
	}
	keys := r.URL.Query()["tagKeys"]
	if len(keys) == 0 {
		var v lambada.Validation
		v.AddNull("tagKeys")
		return v.Err()
	}
	return s.retag(w, r, ref.Name, func(f *lambada.Function) error {
		f.Untag(keys)
		return nil
	})
}

// listTags handles ListTags: GET /2017-03-31/tags/{arn}, {"Tags": {}} when
// there are none.
func (s *Server) listTags(w http.ResponseWriter, r *http.Request) error {
	ref, err := s.taggedFunction(r)
	if err != nil {
		return err
	}
	f, err := s.lookup(r.Context(), ref.Name, "")
	if err != nil {
		return err
	}
	out := tagsBody{Tags: f.Tags}
	if out.Tags == nil {
		out.Tags = map[string]string{}
	}
	return writeJSON(w, http.StatusOK, &out)
}
