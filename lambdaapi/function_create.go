package lambdaapi

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"maps"
	"net/http"

	"github.com/lambada-dev/lambada"
)

// createFunctionRequest is CreateFunction's body: the members Lambada reads.
// Others (VpcConfig, …) are ignored.
type createFunctionRequest struct {
	FunctionName     *string
	Role             *string
	Code             *functionCode
	Runtime          *string
	Handler          *string
	Description      *string
	Timeout          *int
	MemorySize       *int
	Publish          bool
	PackageType      *string
	Environment      *environmentRequest
	Architectures    []string
	EphemeralStorage *lambada.EphemeralStorageSetting
	DeadLetterConfig *deadLetterConfig
	Layers           *[]string
	Tags             map[string]string
	LoggingConfig    *lambada.LoggingSetting
}

// deadLetterConfig is the DeadLetterConfig member, in requests and answers.
type deadLetterConfig struct {
	TargetArn *string `json:"TargetArn,omitempty"`
}

// target returns the TargetArn it sets ("" removes the queue), or nil
// without a DeadLetterConfig member.
func (d *deadLetterConfig) target() *string {
	if d == nil {
		return nil
	}
	if d.TargetArn == nil {
		empty := ""
		return &empty
	}
	return d.TargetArn
}

// functionCode is the Code member of CreateFunction; UpdateFunctionCode has
// the same members at the top level.
type functionCode struct {
	ZipFile         []byte // base64 in JSON
	S3Bucket        *string
	S3Key           *string
	S3ObjectVersion *string
	ImageUri        *string
}

type environmentRequest struct {
	Variables lambada.Variables
}

// settings returns the configuration members of the request.
func (req *createFunctionRequest) settings() *lambada.FunctionSettings {
	return &lambada.FunctionSettings{
		Runtime:          req.Runtime,
		Handler:          req.Handler,
		Role:             req.Role,
		Description:      req.Description,
		Timeout:          req.Timeout,
		MemorySize:       req.MemorySize,
		Environment:      req.Environment.variables(),
		EphemeralStorage: req.EphemeralStorage,
		Architectures:    req.Architectures,
		DeadLetterTarget: req.DeadLetterConfig.target(),
		Logging:          req.LoggingConfig,
	}
}

// variables returns the Variables an Environment member sets (none for
// an Environment without Variables), or nil without an Environment member.
func (e *environmentRequest) variables() *lambada.Variables {
	if e == nil {
		return nil
	}
	return &e.Variables
}

// createFunction handles CreateFunction: POST /2015-03-31/functions.
func (s *Server) createFunction(w http.ResponseWriter, r *http.Request) error {
	var req createFunctionRequest
	if err := decodeBody(r, "CreateFunction", &req); err != nil {
		return err
	}
	if req.Code != nil {
		if err := checkZipSize(req.Code.ZipFile); err != nil {
			return err
		}
	}

	var v lambada.Validation
	var ref lambada.FunctionRef
	if req.FunctionName == nil {
		v.AddNull("functionName")
	} else if ref = lambada.ParseFunctionName(&v, *req.FunctionName); ref.Qualifier != "" {
		v.Add(*req.FunctionName, "functionName", "Member must satisfy regular expression pattern: "+lambada.NewFunctionNamePattern)
	}
	if req.Role == nil {
		v.AddNull("role")
	}
	if req.Code == nil {
		v.AddNull("code")
	}
	settings := req.settings()
	settings.Validate(&v)
	validateFunctionLayers(&v, req.Layers)
	if pt := req.PackageType; pt != nil && *pt != lambada.PackageTypeZip && *pt != "Image" {
		v.Add(*pt, "packageType", "Member must satisfy enum value set: [Zip, Image]")
	}
	if err := v.Err(); err != nil {
		return err
	}
	if err := ref.CheckRegion(s.Region, s.account(r.Context())); lambada.ErrorCode(err) == lambada.EACCESSDENIED {
		// AWS says nothing more to CreateFunction: its message is null.
		return &lambada.Error{Code: lambada.EACCESSDENIED}
	} else if err != nil {
		return err
	}
	if err := lambada.CheckNewFunctionName(ref.Name); err != nil {
		return err
	}
	if req.PackageType != nil && *req.PackageType != lambada.PackageTypeZip {
		return lambada.Errorf(lambada.EINVALID, "PackageType %s is not supported: Lambada runs Zip packages only.", *req.PackageType)
	}
	if req.Runtime == nil || req.Handler == nil {
		return lambada.Errorf(lambada.EINVALID, "Runtime and Handler are mandatory parameters for functions created with deployment packages.")
	}
	if err := settings.Check(); err != nil {
		return err
	}

	if err := lambada.CheckTags(req.Tags); err != nil {
		return err
	}
	if err := checkCodeSource(req.Code); err != nil {
		return err
	}

	ctx := r.Context()
	if err := s.authorizeOn(ctx, "lambda:CreateFunction", lambada.FunctionARN(s.Region, s.account(ctx), ref.Name, "")); err != nil {
		return err
	}
	if err := s.passRole(ctx, req.Role); err != nil {
		return err
	}
	if t := settings.DeadLetterTarget; t != nil && *t != "" && req.Role != nil {
		if err := s.roleMay(*req.Role, "sqs:SendMessage", *t, errDeadLetterRole); err != nil {
			return err
		}
	}
	var layers []lambada.FunctionLayer
	if req.Layers != nil {
		var err error
		if layers, err = s.resolveLayers(ctx, *req.Layers); err != nil {
			return err
		}
	}
	unzipped := unzippedSize(req.Code.ZipFile)
	if err := checkUnzipped(unzipped, layers); err != nil {
		return err
	}
	if _, err := s.Functions.Function(ctx, s.key(ctx, ref.Name)); err == nil {
		return errExists(ref.Name)
	} else if lambada.ErrorCode(err) != lambada.ENOTFOUND {
		return fmt.Errorf("read function %s: %w", ref.Name, err)
	}
	sha, err := s.storeCode(ctx, req.Code.ZipFile)
	if err != nil {
		return err
	}
	f := &lambada.Function{Name: ref.Name, Account: s.own(ctx), Latest: lambada.NewFunctionConfig(), Tags: maps.Clone(req.Tags)}
	if len(f.Tags) == 0 {
		f.Tags = nil
	}
	if err := settings.Apply(&f.Latest); err != nil {
		return err
	}
	f.Latest.CodeSha256 = sha
	f.Latest.CodeSize = int64(len(req.Code.ZipFile))
	f.Latest.UnzippedSize = unzipped
	if len(layers) > 0 {
		f.Latest.Layers = layers
	}
	f.Latest.Status = lambada.Creating()
	s.touch(&f.Latest)
	var published *lambada.FunctionConfig
	if req.Publish {
		published, _ = s.publish(f, nil)
	}
	rev, err := s.Functions.PutFunction(ctx, f)
	if lambada.ErrorCode(err) == lambada.ECONFLICT {
		return errExists(ref.Name)
	} else if err != nil {
		return fmt.Errorf("write function %s: %w", ref.Name, err)
	}
	f.Revision = rev
	s.prepare(f.Key())
	if published != nil {
		// AWS answers with version 1, under the unqualified ARN.
		return writeJSON(w, http.StatusCreated, s.render(f, published, "", viewFull))
	}
	return writeJSON(w, http.StatusCreated, s.configuration(f))
}

// errDeadLetterRole is AWS's answer to a dead-letter queue the function's
// execution role may not send to.
var errDeadLetterRole = lambada.Errorf(lambada.EINVALID, "The provided execution role does not have permissions to call SendMessage on SQS")

func errExists(name string) error {
	return lambada.Errorf(lambada.ECONFLICT, "Function already exist: %s", name)
}

// checkZipSize returns AWS's 413 for a ZipFile over the direct-upload limit.
func checkZipSize(zip []byte) error {
	if len(zip) > lambada.MaxZippedSize {
		return lambada.Errorf(lambada.ETOOLARGE, "Zipped size must be smaller than %d bytes", lambada.MaxZippedSize)
	}
	return nil
}

// checkCodeSource accepts code given as ZipFile only.
func checkCodeSource(c *functionCode) error {
	if c.S3Bucket != nil || c.S3Key != nil || c.S3ObjectVersion != nil || c.ImageUri != nil {
		return lambada.Errorf(lambada.EINVALID, "Only ZipFile code is supported: Lambada does not fetch code from S3 (S3Bucket, S3Key) or container images (ImageUri).")
	}
	if len(c.ZipFile) == 0 {
		return lambada.Errorf(lambada.EINVALID, "Please provide a source for function code.")
	}
	return nil
}

// storeCode checks zip and stores it under its hex SHA-256 and returns AWS's CodeSha256,
// the base64 of that digest.
func (s *Server) storeCode(ctx context.Context, zip []byte) (string, error) {
	sum := sha256.Sum256(zip)
	sha := base64.StdEncoding.EncodeToString(sum[:])
	if err := s.Code.StoreCode(ctx, lambada.CodeKey(sha), zip); err != nil {
		return "", fmt.Errorf("store code: %w", err)
	}
	return sha, nil
}
