package lambdaapi

import (
	"archive/zip"
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/lambada-dev/lambada"
)

// routeLayers registers the layer operations (2018-10-31).
func (s *Server) routeLayers(handle func(string, func(http.ResponseWriter, *http.Request) error)) {
	handle("POST /2018-10-31/layers/{name}/versions", s.publishLayerVersion)
	handle("GET /2018-10-31/layers/{name}/versions", s.listLayerVersions)
	handle("GET /2018-10-31/layers/{name}/versions/{version}", s.getLayerVersion)
	handle("DELETE /2018-10-31/layers/{name}/versions/{version}", s.deleteLayerVersion)
	handle("GET /2018-10-31/layers", s.listLayers) // and GetLayerVersionByArn (?find=LayerVersion)
}

// layerStore is the store of layers: a node without one has none.
func (s *Server) layerStore() lambada.LayerStore {
	if s.Layers == nil {
		return noLayers{}
	}
	return s.Layers
}

var (
	errNoLayer         = lambada.Errorf(lambada.ENOTFOUND, "The resource you requested does not exist.")
	errLayerVersionLT1 = lambada.Errorf(lambada.EINVALID, "Layer Version Cannot be less than 1")
)

// publishLayerVersionRequest is PublishLayerVersion's body.
type publishLayerVersionRequest struct {
	Description             *string
	Content                 *functionCode
	CompatibleRuntimes      *[]string
	CompatibleArchitectures *[]string
	LicenseInfo             *string
}

// validateLayerName adds a LayerName's violations to v.
func validateLayerName(v *lambada.Validation, name string) {
	switch {
	case len(name) > lambada.MaxLayerName:
		v.Add(name, "layerName", fmt.Sprintf("Member must have length less than or equal to %d", lambada.MaxLayerName))
	case !lambada.ValidLayerName(name):
		v.Add(name, "layerName", "Member must satisfy regular expression pattern: "+lambada.LayerNamePattern)
	}
}

// validateCompatible adds the violations of CompatibleRuntimes and
// CompatibleArchitectures lists to v: each list is echoed whole.
func validateCompatible(v *lambada.Validation, runtimes, archs *[]string) {
	if rs := runtimes; rs != nil {
		value := "[" + strings.Join(*rs, ", ") + "]"
		switch {
		case len(*rs) > lambada.MaxCompatibleRuntimes:
			v.Add(value, "compatibleRuntimes", fmt.Sprintf("Member must have length less than or equal to %d", lambada.MaxCompatibleRuntimes))
		case slices.ContainsFunc(*rs, func(r string) bool { return !lambada.KnownRuntime(r) }):
			v.Add(value, "compatibleRuntimes", "Member must satisfy enum value set: "+lambada.RuntimeEnum())
		}
	}
	if as := archs; as != nil {
		value := "[" + strings.Join(*as, ", ") + "]"
		switch {
		case len(*as) > 2:
			v.Add(value, "compatibleArchitectures", "Member must have length less than or equal to 2")
		case slices.ContainsFunc(*as, func(a string) bool { return a != lambada.ArchitectureX86 && a != lambada.ArchitectureARM }):
			v.Add(value, "compatibleArchitectures", "Member must satisfy constraint: [Member must satisfy enum value set: [x86_64, arm64]]")
		}
	}
}

// publishLayerVersion handles PublishLayerVersion: POST
// /2018-10-31/layers/{name}/versions.
func (s *Server) publishLayerVersion(w http.ResponseWriter, r *http.Request) error {
	var req publishLayerVersionRequest
	if err := decodeBody(r, "PublishLayerVersion", &req); err != nil {
		return err
	}
	if req.Content != nil {
		if err := checkZipSize(req.Content.ZipFile); err != nil {
			return err
		}
	}
	var v lambada.Validation
	name := r.PathValue("name")
	validateLayerName(&v, name)
	if req.Content == nil {
		v.AddNull("content")
	}
	if d := req.Description; d != nil && len(*d) > lambada.MaxLayerDescription {
		v.Add(*d, "description", fmt.Sprintf("Member must have length less than or equal to %d", lambada.MaxLayerDescription))
	}
	validateCompatible(&v, req.CompatibleRuntimes, req.CompatibleArchitectures)
	if l := req.LicenseInfo; l != nil && len(*l) > lambada.MaxLicenseInfo {
		v.Add(*l, "licenseInfo", fmt.Sprintf("Member must have length less than or equal to %d", lambada.MaxLicenseInfo))
	}
	if err := v.Err(); err != nil {
		return err
	}
	if err := s.checkLayerRegion(name); err != nil {
		return err
	}
	if err := checkCodeSource(req.Content); err != nil {
		return err
	}
	ctx := r.Context()
	sha, err := s.storeCode(ctx, req.Content.ZipFile)
	if err != nil {
		return err
	}
	lv := &lambada.LayerVersion{
		Name:         s.key(ctx, lambada.LayerName(name)),
		Description:  deref(req.Description),
		LicenseInfo:  req.LicenseInfo,
		CodeKey:      lambada.CodeKey(sha),
		CodeSize:     int64(len(req.Content.ZipFile)),
		UnzippedSize: unzippedSize(req.Content.ZipFile),
		Created:      s.Now(),
	}
	if req.CompatibleRuntimes != nil {
		lv.CompatibleRuntimes = append([]string{}, *req.CompatibleRuntimes...)
	}
	if req.CompatibleArchitectures != nil {
		lv.CompatibleArchitectures = append([]string{}, *req.CompatibleArchitectures...)
	}
	if lv.Version, err = s.layerStore().PublishLayerVersion(ctx, lv); err != nil {
		return fmt.Errorf("publish layer %s: %w", lv.Name, err)
	}
	return writeJSON(w, http.StatusCreated, s.renderLayerVersion(r, lv))
}

// checkLayerRegion refuses a layer named by the ARN of another region.
func (s *Server) checkLayerRegion(name string) error {
	if parts := strings.Split(name, ":"); len(parts) == 7 && parts[3] != s.Region {
		return errNoLayer
	}
	return nil
}

// layerVersionParams parses {name} and {version}.
func (s *Server) layerVersionParams(r *http.Request) (string, int64, error) {
	var v lambada.Validation
	name := r.PathValue("name")
	validateLayerName(&v, name)
	if err := v.Err(); err != nil {
		return "", 0, err
	}
	if err := s.checkLayerRegion(name); err != nil {
		return "", 0, err
	}
	version, err := strconv.ParseInt(r.PathValue("version"), 10, 64)
	if err != nil {
		return "", 0, lambada.Errorf(lambada.ECONTENT, "Could not parse request body into json: the value of VersionNumber must be a number")
	}
	if version < 1 {
		return "", 0, errLayerVersionLT1
	}
	return lambada.LayerName(name), version, nil
}

// getLayerVersion handles GetLayerVersion.
func (s *Server) getLayerVersion(w http.ResponseWriter, r *http.Request) error {
	name, version, err := s.layerVersionParams(r)
	if err != nil {
		return err
	}
	return s.writeLayerVersion(w, r, s.key(r.Context(), name), version)
}

func (s *Server) writeLayerVersion(w http.ResponseWriter, r *http.Request, name string, version int64) error {
	lv, err := s.layerStore().LayerVersion(r.Context(), name, version)
	if lambada.ErrorCode(err) == lambada.ENOTFOUND {
		return errNoLayer
	} else if err != nil {
		return fmt.Errorf("read layer %s: %w", name, err)
	}
	return writeJSON(w, http.StatusOK, s.renderLayerVersion(r, lv))
}

// deleteLayerVersion handles DeleteLayerVersion: 204 whether or not the
// version exists.
func (s *Server) deleteLayerVersion(w http.ResponseWriter, r *http.Request) error {
	name, version, err := s.layerVersionParams(r)
	if err != nil {
		return err
	}
	if err := s.layerStore().DeleteLayerVersion(r.Context(), s.key(r.Context(), name), version); err != nil {
		return fmt.Errorf("delete layer %s: %w", name, err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// layerFilter is the CompatibleRuntime and CompatibleArchitecture of a list
// operation.
type layerFilter struct{ runtime, arch string }

func (f layerFilter) keep(lv *lambada.LayerVersion) bool {
	return (f.runtime == "" || slices.Contains(lv.CompatibleRuntimes, f.runtime)) &&
		(f.arch == "" || slices.Contains(lv.CompatibleArchitectures, f.arch))
}

// parseLayerList parses a list operation's filters and MaxItems (1 to 50).
func parseLayerList(r *http.Request, v *lambada.Validation) (layerFilter, int) {
	q := r.URL.Query()
	f := layerFilter{runtime: q.Get("CompatibleRuntime"), arch: q.Get("CompatibleArchitecture")}
	if f.runtime != "" && !lambada.KnownRuntime(f.runtime) {
		v.Add(f.runtime, "compatibleRuntime", "Member must satisfy enum value set: "+lambada.RuntimeEnum())
	}
	if f.arch != "" && f.arch != lambada.ArchitectureX86 && f.arch != lambada.ArchitectureARM {
		v.Add(f.arch, "compatibleArchitecture", "Member must satisfy enum value set: [x86_64, arm64]")
	}
	return f, parseMaxItemsUpTo(v, q, defaultMaxItems)
}

// listLayers handles ListLayers, and GetLayerVersionByArn (the same path
// with find=LayerVersion).
func (s *Server) listLayers(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	if q.Get("find") == "LayerVersion" {
		arn := q.Get("Arn")
		if !lambada.ValidLayerVersionARN(arn) {
			var v lambada.Validation
			v.Add(arn, "arn", "Member must satisfy regular expression pattern: "+lambada.LayerVersionARNPattern)
			return v.Err()
		}
		ref, _ := lambada.ParseLayerVersionARN(arn)
		if ref.Region != s.Region || ref.Account != s.account(r.Context()) {
			return errNoLayer
		}
		return s.writeLayerVersion(w, r, s.key(r.Context(), ref.Name), ref.Version)
	}
	var v lambada.Validation
	filter, size := parseLayerList(r, &v)
	if err := v.Err(); err != nil {
		return err
	}
	after, err := parseMarker(q)
	if err != nil {
		return err
	}
	all, err := s.layerStore().LayerVersions(r.Context())
	if err != nil {
		return fmt.Errorf("list layers: %w", err)
	}
	// The newest matching version of each layer of the account, by name.
	own := s.own(r.Context())
	var latest []*lambada.LayerVersion
	for _, lv := range all {
		if account, _ := lambada.SplitAccountKey(lv.Name); account != own || !filter.keep(lv) {
			continue
		}
		if n := len(latest); n > 0 && latest[n-1].Name == lv.Name {
			latest[n-1] = lv
		} else {
			latest = append(latest, lv)
		}
	}
	items, next := page(latest, func(lv **lambada.LayerVersion) string { return (*lv).Name }, after, size, nil)
	layers := make([]map[string]any, 0, len(items))
	for _, lv := range items {
		_, name := lambada.SplitAccountKey((*lv).Name)
		layers = append(layers, map[string]any{
			"LayerName":             name,
			"LayerArn":              s.layerARN(*lv),
			"LatestMatchingVersion": s.layerVersionItem(*lv),
		})
	}
	out := map[string]any{"Layers": layers}
	if next != "" {
		out["NextMarker"] = next
	}
	return writeJSON(w, http.StatusOK, out)
}

// listLayerVersions handles ListLayerVersions: newest first; an unknown
// layer has none.
func (s *Server) listLayerVersions(w http.ResponseWriter, r *http.Request) error {
	var v lambada.Validation
	name := r.PathValue("name")
	validateLayerName(&v, name)
	filter, size := parseLayerList(r, &v)
	if err := v.Err(); err != nil {
		return err
	}
	if err := s.checkLayerRegion(name); err != nil {
		return err
	}
	after, err := parseMarker(r.URL.Query())
	if err != nil {
		return err
	}
	all, err := s.layerStore().LayerVersions(r.Context())
	if err != nil {
		return fmt.Errorf("list layers: %w", err)
	}
	name = s.key(r.Context(), lambada.LayerName(name))
	var versions []*lambada.LayerVersion
	for _, lv := range all {
		if lv.Name == name && filter.keep(lv) {
			versions = append(versions, lv)
		}
	}
	slices.Reverse(versions)
	// Keys that sort newest first: the page helper walks keys upwards.
	key := func(lv **lambada.LayerVersion) string { return fmt.Sprintf("%020d", 1<<62-(*lv).Version) }
	items, next := page(versions, key, after, size, nil)
	out := map[string]any{"LayerVersions": listOf(items, s.layerVersionItem)}
	if next != "" {
		out["NextMarker"] = next
	}
	return writeJSON(w, http.StatusOK, out)
}

func listOf(items []**lambada.LayerVersion, f func(*lambada.LayerVersion) map[string]any) []map[string]any {
	out := make([]map[string]any, 0, len(items))
	for _, it := range items {
		out = append(out, f(*it))
	}
	return out
}

// layerVersionItem is a LayerVersionsListItem.
func (s *Server) layerVersionItem(lv *lambada.LayerVersion) map[string]any {
	m := map[string]any{
		"LayerVersionArn": s.layerARN(lv) + ":" + strconv.FormatInt(lv.Version, 10),
		"Version":         lv.Version,
		"Description":     lv.Description,
		"CreatedDate":     lv.Created.UTC().Format(lastModifiedLayout),
	}
	if lv.CompatibleRuntimes != nil {
		m["CompatibleRuntimes"] = lv.CompatibleRuntimes
	}
	if lv.CompatibleArchitectures != nil {
		m["CompatibleArchitectures"] = lv.CompatibleArchitectures
	}
	if lv.LicenseInfo != nil {
		m["LicenseInfo"] = *lv.LicenseInfo
	}
	return m
}

// renderLayerVersion is the answer of PublishLayerVersion, GetLayerVersion
// and GetLayerVersionByArn.
func (s *Server) renderLayerVersion(r *http.Request, lv *lambada.LayerVersion) map[string]any {
	m := s.layerVersionItem(lv)
	m["LayerArn"] = s.layerARN(lv)
	m["Content"] = map[string]any{
		"Location":   s.layerLink(r, lv),
		"CodeSha256": codeSha256(lv.CodeKey),
		"CodeSize":   lv.CodeSize,
	}
	return m
}

// layerARN is the ARN of lv's layer, in its account.
func (s *Server) layerARN(lv *lambada.LayerVersion) string {
	account, name := lambada.SplitAccountKey(lv.Name)
	return lambada.LayerARN(s.Region, cmp.Or(account, s.Account), name)
}

// unzippedSize is the size of an archive's files (0 for one that does not
// open: the code store refuses it).
func unzippedSize(b []byte) int64 {
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return 0
	}
	var n int64
	for _, f := range zr.File {
		n += int64(f.UncompressedSize64)
	}
	return n
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// noLayers is the layer store of a server without one.
type noLayers struct{}

func (noLayers) PublishLayerVersion(context.Context, *lambada.LayerVersion) (int64, error) {
	return 0, lambada.Errorf(lambada.EINTERNAL, "this node keeps no layers")
}
func (noLayers) LayerVersion(context.Context, string, int64) (*lambada.LayerVersion, error) {
	return nil, errNoLayer
}
func (noLayers) LayerVersions(context.Context) ([]*lambada.LayerVersion, error) { return nil, nil }
func (noLayers) DeleteLayerVersion(context.Context, string, int64) error        { return nil }

// codeSha256 is AWS's CodeSha256 (base64) of an archive's hex key.
func codeSha256(key string) string {
	b, err := hex.DecodeString(key)
	if err != nil {
		return ""
	}
	return base64.StdEncoding.EncodeToString(b)
}

// validateFunctionLayers adds the violations of a function's Layers to v:
// the whole list is echoed.
func validateFunctionLayers(v *lambada.Validation, layers *[]string) {
	if layers == nil || !slices.ContainsFunc(*layers, func(l string) bool { return !lambada.ValidFunctionLayer(l) }) {
		return
	}
	v.Add("["+strings.Join(*layers, ", ")+"]", "layers", fmt.Sprintf(
		"Member must satisfy constraint: [Member must have length less than or equal to %d, Member must have length greater than or equal to 1, Member must satisfy regular expression pattern: %s, Member must not be null]",
		lambada.MaxLayerName, lambada.FunctionLayerPattern))
}

// resolveLayers checks a function's Layers, in AWS's order, and returns
// them with their archives: at most MaxLayers, each in this region and
// existing, no layer twice.
func (s *Server) resolveLayers(ctx context.Context, arns []string) ([]lambada.FunctionLayer, error) {
	if len(arns) > lambada.MaxLayers {
		return nil, lambada.Errorf(lambada.EINVALID, "Cannot reference more than %d layers.", lambada.MaxLayers)
	}
	out := make([]lambada.FunctionLayer, 0, len(arns))
	seen := map[string]string{} // layer ARN → the first version ARN of it
	for _, arn := range arns {
		ref, _ := lambada.ParseLayerVersionARN(arn)
		if ref.Region != s.Region {
			return nil, lambada.Errorf(lambada.EINVALID, "Layers are not in the same region as the function. Layers are expected to be in region %s.", s.Region)
		}
		var lv *lambada.LayerVersion
		var err error
		if ref.Account == s.account(ctx) { // layers of other accounts are not shared
			if err := s.authorizeOn(ctx, "lambda:GetLayerVersion", lambada.LayerVersionARN(ref.Region, ref.Account, ref.Name, ref.Version)); err != nil {
				return nil, err
			}
			lv, err = s.layerStore().LayerVersion(ctx, s.key(ctx, ref.Name), ref.Version)
		} else {
			err = errNoLayer
		}
		if lambada.ErrorCode(err) == lambada.ENOTFOUND {
			return nil, lambada.Errorf(lambada.EINVALID, "Layer version %s does not exist.", arn)
		} else if err != nil {
			return nil, fmt.Errorf("read layer %s: %w", arn, err)
		}
		layer := lambada.LayerARN(ref.Region, ref.Account, ref.Name)
		if first, ok := seen[layer]; ok {
			return nil, lambada.Errorf(lambada.EINVALID, "Two different versions of the same layer are not allowed to be referenced in the same function. %s and %s are versions of the same layer.", first, arn)
		}
		seen[layer] = arn
		out = append(out, lambada.FunctionLayer{Arn: arn, CodeSize: lv.CodeSize, CodeKey: lv.CodeKey, UnzippedSize: lv.UnzippedSize})
	}
	return out, nil
}

// checkUnzipped returns AWS's error when code of unzipped bytes and layers
// together exceed what an environment may hold.
func checkUnzipped(unzipped int64, layers []lambada.FunctionLayer) error {
	var n int64
	for _, l := range layers {
		n += l.UnzippedSize
	}
	switch {
	case n > lambada.MaxUnzippedSize:
		return lambada.Errorf(lambada.EINVALID, "Layers consume more than the available size of %d bytes", lambada.MaxUnzippedSize)
	case n+unzipped > lambada.MaxUnzippedSize:
		return lambada.Errorf(lambada.EINVALID, "Function code combined with layers exceeds the maximum allowed size of %d bytes. The actual size is %d bytes.", lambada.MaxUnzippedSize, n+unzipped)
	}
	return nil
}

// layersOut is a configuration's Layers as AWS shows them.
type layerOut struct {
	Arn      string `json:"Arn"`
	CodeSize int64  `json:"CodeSize"`
}

func renderLayers(layers []lambada.FunctionLayer) []layerOut {
	if len(layers) == 0 {
		return nil
	}
	out := make([]layerOut, len(layers))
	for i, l := range layers {
		out[i] = layerOut{Arn: l.Arn, CodeSize: l.CodeSize}
	}
	return out
}
