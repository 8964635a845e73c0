package lambdaapi

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/lambada-dev/lambada"
)

// updateFunctionCodeRequest is UpdateFunctionCode's body.
type updateFunctionCodeRequest struct {
	functionCode
	Publish       bool
	DryRun        bool
	RevisionId    string
	Architectures []string
}

// updateFunctionConfigurationRequest is UpdateFunctionConfiguration's body:
// the members Lambada reads. Others (VpcConfig, …) are ignored.
type updateFunctionConfigurationRequest struct {
	Role             *string
	Handler          *string
	Description      *string
	Timeout          *int
	MemorySize       *int
	Environment      *environmentRequest
	Runtime          *string
	RevisionId       string
	EphemeralStorage *lambada.EphemeralStorageSetting
	DeadLetterConfig *deadLetterConfig
	Layers           *[]string // [] removes every layer
	LoggingConfig    *lambada.LoggingSetting
}

// updateFunctionCode handles UpdateFunctionCode:
// PUT /2015-03-31/functions/{name}/code.
func (s *Server) updateFunctionCode(w http.ResponseWriter, r *http.Request) error {
	var req updateFunctionCodeRequest
	if err := decodeBody(r, "UpdateFunctionCode", &req); err != nil {
		return err
	}
	if err := checkZipSize(req.ZipFile); err != nil {
		return err
	}
	var v lambada.Validation
	ref, refErr := s.parseUpdateRef(&v, r)
	if req.Architectures != nil {
		lambada.ValidateArchitectures(&v, req.Architectures)
	}
	if err := v.Err(); err != nil {
		return err
	}
	if refErr != nil {
		return refErr
	}
	if err := checkCodeSource(&req.functionCode); err != nil {
		return err
	}

	ctx := r.Context()
	f, err := s.lookup(ctx, ref.Name, "")
	if err != nil {
		return err
	}
	if err := s.checkUpdatable(f, req.RevisionId); err != nil {
		return err
	}
	if req.DryRun {
		return writeJSON(w, http.StatusOK, s.configuration(f))
	}
	sha, err := s.storeCode(ctx, req.ZipFile)
	if err != nil {
		return err
	}
	var published *lambada.FunctionConfig
	f, err = s.mutate(ctx, ref.Name, "", func(f *lambada.Function) error {
		if err := s.checkUpdatable(f, req.RevisionId); err != nil {
			return err
		}
		f.StartUpdate()
		if err := checkUnzipped(unzippedSize(req.ZipFile), f.Latest.Layers); err != nil {
			return err
		}
		f.Latest.CodeSha256 = sha
		f.Latest.CodeSize = int64(len(req.ZipFile))
		f.Latest.UnzippedSize = unzippedSize(req.ZipFile)
		if req.Architectures != nil {
			f.Latest.Architectures = slices.Clone(req.Architectures)
		}
		s.touch(&f.Latest)
		if req.Publish {
			published, _ = s.publish(f, nil)
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.prepare(f.Key())
	if published != nil {
		// AWS answers with the new version, still being created.
		return writeJSON(w, http.StatusOK, s.render(f, published, published.Version, viewFull))
	}
	return writeJSON(w, http.StatusOK, s.configuration(f))
}

// updateFunctionConfiguration handles UpdateFunctionConfiguration:
// PUT /2015-03-31/functions/{name}/configuration. Members not given keep
// their values.
func (s *Server) updateFunctionConfiguration(w http.ResponseWriter, r *http.Request) error {
	var req updateFunctionConfigurationRequest
	if err := decodeBody(r, "UpdateFunctionConfiguration", &req); err != nil {
		return err
	}
	settings := &lambada.FunctionSettings{
		Runtime:          req.Runtime,
		Handler:          req.Handler,
		Role:             req.Role,
		Description:      req.Description,
		Timeout:          req.Timeout,
		MemorySize:       req.MemorySize,
		Environment:      req.Environment.variables(),
		EphemeralStorage: req.EphemeralStorage,
		DeadLetterTarget: req.DeadLetterConfig.target(),
		Logging:          req.LoggingConfig,
	}
	var v lambada.Validation
	ref, refErr := s.parseUpdateRef(&v, r)
	settings.Validate(&v)
	validateFunctionLayers(&v, req.Layers)
	if err := v.Err(); err != nil {
		return err
	}
	if refErr != nil {
		return refErr
	}
	if err := settings.Check(); err != nil {
		return err
	}
	if err := s.passRole(r.Context(), req.Role); err != nil {
		return err
	}
	if t := settings.DeadLetterTarget; t != nil && *t != "" && s.Authorizer != nil {
		role := req.Role
		if role == nil {
			f, err := s.lookup(r.Context(), ref.Name, "")
			if err != nil {
				return err
			}
			role = &f.Latest.Role
		}
		if err := s.roleMay(*role, "sqs:SendMessage", *t, errDeadLetterRole); err != nil {
			return err
		}
	}
	var layers []lambada.FunctionLayer
	if req.Layers != nil {
		var err error
		if layers, err = s.resolveLayers(r.Context(), *req.Layers); err != nil {
			return err
		}
	}
	f, err := s.mutate(r.Context(), ref.Name, "", func(f *lambada.Function) error {
		if err := s.checkUpdatable(f, req.RevisionId); err != nil {
			return err
		}
		if req.Layers != nil {
			if err := checkUnzipped(f.Latest.UnzippedSize, layers); err != nil {
				return err
			}
		}
		f.StartUpdate()
		if err := settings.Apply(&f.Latest); err != nil {
			return err // f, a copy, is dropped
		}
		if req.Layers != nil {
			f.Latest.Layers = layers
			if len(layers) == 0 {
				f.Latest.Layers = nil
			}
		}
		s.touch(&f.Latest)
		return nil
	})
	if err != nil {
		return err
	}
	s.prepare(f.Key())
	return writeJSON(w, http.StatusOK, s.configuration(f))
}

// deleteFunction handles DeleteFunction: DELETE /2015-03-31/functions/{name}.
// With a version qualifier it deletes only that version (a version that
// does not exist is already deleted: 204); AWS refuses $LATEST, aliases and
// a version an alias routes to.
func (s *Server) deleteFunction(w http.ResponseWriter, r *http.Request) error {
	ref, err := s.parseRef(r)
	if err != nil {
		return err
	}
	if ref.Qualifier == lambada.LatestVersion {
		return lambada.Errorf(lambada.EINVALID, "$LATEST version cannot be deleted without deleting the function.")
	}
	ctx := r.Context()
	if q := ref.Qualifier; q != "" {
		f, err := s.mutate(ctx, ref.Name, "", func(f *lambada.Function) error {
			if !lambada.IsVersionNumber(q) {
				return lambada.Errorf(lambada.EINVALID, "Deletion of aliases is not currently supported.")
			}
			if aliases := f.AliasesOf(q); len(aliases) > 0 {
				return lambada.Errorf(lambada.ECONFLICT, "Unable to delete version because the following aliases reference it: [%s]", strings.Join(aliases, ", "))
			}
			if !f.DeleteVersion(q) {
				return errUnchanged
			}
			f.DeleteProvisioned(q)
			return nil
		})
		if err != nil {
			return err
		}
		s.apply(ctx, f.Name)
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	err = s.Functions.DeleteFunction(ctx, s.key(ctx, ref.Name))
	if lambada.ErrorCode(err) == lambada.ENOTFOUND {
		return s.notFound(ctx, ref.Name, "")
	} else if err != nil {
		return fmt.Errorf("delete function %s: %w", ref.Name, err)
	}
	s.apply(ctx, ref.Name)
	w.WriteHeader(http.StatusNoContent)
	return nil
}
