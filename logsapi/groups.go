package logsapi

import (
	"encoding/base64"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/lambada-dev/lambada"
)

var groupNameRE = regexp.MustCompile(`^` + lambada.LogGroupPattern + `$`)

// validation collects the front end's constraint violations, as AWS words
// them, into one InvalidParameterException.
type validation []string

func (v *validation) add(value, member, constraint string) {
	*v = append(*v, fmt.Sprintf("Value '%s' at '%s' failed to satisfy constraint: %s", value, member, constraint))
}

func (v validation) err() error {
	if len(v) == 0 {
		return nil
	}
	s := "s"
	if len(v) == 1 {
		s = ""
	}
	return invalid(fmt.Sprintf("%d validation error%s detected: %s", len(v), s, strings.Join(v, "; ")))
}

// groupName checks a logGroupName member.
func (v *validation) groupName(name *string, member string) {
	switch {
	case name == nil:
	case len(*name) < 1:
		v.add(*name, member, "Member must have length greater than or equal to 1")
	case len(*name) > lambada.MaxLogGroupName:
		v.add(*name, member, "Member must have length less than or equal to 512")
	case !groupNameRE.MatchString(*name):
		v.add(*name, member, "Member must satisfy regular expression pattern: "+lambada.LogGroupPattern)
	}
}

// limit checks a limit member against its bounds.
func (v *validation) limit(limit *int, max int) {
	switch {
	case limit == nil:
	case *limit < 1:
		v.add(strconv.Itoa(*limit), "limit", "Member must have value greater than or equal to 1")
	case *limit > max:
		v.add(strconv.Itoa(*limit), "limit", fmt.Sprintf("Member must have value less than or equal to %d", max))
	}
}

// groupRequest names a log group: by name, or by name or ARN.
type groupRequest struct {
	LogGroupName       *string `json:"logGroupName"`
	LogGroupIdentifier *string `json:"logGroupIdentifier"`
}

// group returns the name of the group req names, checking the caller may
// perform req's action on it.
func (s *Server) group(r *request, g groupRequest, v *validation) (string, error) {
	v.groupName(g.LogGroupName, "logGroupName")
	if err := v.err(); err != nil {
		return "", err
	}
	var name string
	switch {
	case g.LogGroupName != nil && g.LogGroupIdentifier != nil:
		return "", &apiError{"ValidationException", "LogGroup name and LogGroup ARN are mutually exclusive parameters."}
	case g.LogGroupName != nil:
		name = *g.LogGroupName
	case g.LogGroupIdentifier != nil:
		name = *g.LogGroupIdentifier
		if rest, ok := strings.CutPrefix(name, "arn:"); ok {
			// arn:aws:logs:<region>:<account>:log-group:<name>[:*]
			parts := strings.SplitN(rest, ":", 6)
			if len(parts) != 6 || parts[1] != "logs" || parts[4] != "log-group" {
				return "", invalid("The specified log group identifier is invalid.")
			}
			if parts[3] != r.account {
				return "", errNoGroup
			}
			name = strings.TrimSuffix(parts[5], ":*")
		}
	default:
		return "", invalid("Either logGroupName or logGroupIdentifier must be specified.")
	}
	return name, s.authorize(r, name)
}

func (s *Server) createLogGroup(r *request) (any, error) {
	var in struct {
		LogGroupName *string `json:"logGroupName"`
	}
	if err := r.decode(&in); err != nil {
		return nil, err
	}
	var v validation
	if in.LogGroupName == nil {
		return nil, nullMember("logGroupName")
	}
	v.groupName(in.LogGroupName, "logGroupName")
	if err := v.err(); err != nil {
		return nil, err
	}
	if err := s.authorize(r, *in.LogGroupName); err != nil {
		return nil, err
	}
	err := s.Groups.CreateGroup(r.ctx, lambada.LogGroup{Name: *in.LogGroupName, Account: s.stored(r), Created: s.Now().UnixMilli()})
	if lambada.ErrorCode(err) == lambada.ECONFLICT {
		return nil, errExists
	}
	return nil, err
}

// namedGroup returns the group of a request that names it by its
// logGroupName alone, checking the caller may perform req's action on it.
func (s *Server) namedGroup(r *request, name *string) (string, error) {
	if name == nil {
		return "", nullMember("logGroupName")
	}
	return s.group(r, groupRequest{LogGroupName: name}, &validation{})
}

// nullMember is the error of a required member that is missing.
func nullMember(member string) error {
	return invalid("1 validation error detected: Value null at '" + member + "' failed to satisfy constraint: Member must not be null")
}

// onGroup runs change on the group a request names by its logGroupName
// alone: the answer of DeleteLogGroup and DeleteRetentionPolicy.
func (s *Server) onGroup(r *request, change func(account, name string) error) (any, error) {
	var in groupRequest
	if err := r.decode(&in); err != nil {
		return nil, err
	}
	name, err := s.namedGroup(r, in.LogGroupName)
	if err != nil {
		return nil, err
	}
	return nil, notFound(change(s.stored(r), name))
}

func (s *Server) deleteLogGroup(r *request) (any, error) {
	return s.onGroup(r, func(account, name string) error { return s.Groups.DeleteGroup(r.ctx, account, name) })
}

// notFound turns the store's ENOTFOUND into the missing group's error.
func notFound(err error) error {
	if lambada.ErrorCode(err) == lambada.ENOTFOUND {
		return errNoGroup
	}
	return err
}

func (s *Server) putRetentionPolicy(r *request) (any, error) {
	var in struct {
		groupRequest
		RetentionInDays *int `json:"retentionInDays"`
	}
	if err := r.decode(&in); err != nil {
		return nil, err
	}
	if in.RetentionInDays == nil {
		return nil, nullMember("retentionInDays")
	}
	if !slices.Contains(lambada.RetentionDays, *in.RetentionInDays) {
		return nil, invalid(fmt.Sprintf("1 validation error detected: Value '%d' at 'retentionInDays' failed to satisfy constraint: Member must satisfy enum value set: %s",
			*in.RetentionInDays, lambada.RetentionDaysList()))
	}
	name, err := s.namedGroup(r, in.LogGroupName)
	if err != nil {
		return nil, err
	}
	return nil, notFound(s.Groups.SetRetention(r.ctx, s.stored(r), name, *in.RetentionInDays))
}

func (s *Server) deleteRetentionPolicy(r *request) (any, error) {
	return s.onGroup(r, func(account, name string) error { return s.Groups.SetRetention(r.ctx, account, name, 0) })
}

// logGroupOut is a LogGroup of DescribeLogGroups.
type logGroupOut struct {
	LogGroupName      string `json:"logGroupName"`
	CreationTime      int64  `json:"creationTime"`
	RetentionInDays   *int   `json:"retentionInDays,omitempty"`
	MetricFilterCount int    `json:"metricFilterCount"`
	ARN               string `json:"arn"`
	LogGroupARN       string `json:"logGroupArn"`
	StoredBytes       int64  `json:"storedBytes"`
	LogGroupClass     string `json:"logGroupClass"`
	DeletionProtected bool   `json:"deletionProtectionEnabled"`
}

func (s *Server) describeLogGroups(r *request) (any, error) {
	var in struct {
		LogGroupNamePrefix  *string `json:"logGroupNamePrefix"`
		LogGroupNamePattern *string `json:"logGroupNamePattern"`
		NextToken           *string `json:"nextToken"`
		Limit               *int    `json:"limit"`
	}
	if err := r.decode(&in); err != nil {
		return nil, err
	}
	var v validation
	v.groupName(in.LogGroupNamePrefix, "logGroupNamePrefix")
	v.limit(in.Limit, 50)
	if err := v.err(); err != nil {
		return nil, err
	}
	if in.LogGroupNamePrefix != nil && in.LogGroupNamePattern != nil {
		return nil, invalid("LogGroup name prefix and LogGroup name pattern are mutually exclusive parameters.")
	}
	if err := s.authorize(r, ""); err != nil {
		return nil, err
	}
	groups, err := s.GroupReader.Groups(r.ctx, s.stored(r))
	if err != nil {
		return nil, err
	}
	groups = slices.DeleteFunc(groups, func(g lambada.LogGroup) bool {
		return in.LogGroupNamePrefix != nil && !strings.HasPrefix(g.Name, *in.LogGroupNamePrefix) ||
			in.LogGroupNamePattern != nil && !strings.Contains(g.Name, *in.LogGroupNamePattern)
	})
	page, next, err := paginate(groups, in.NextToken, in.Limit)
	if err != nil {
		return nil, err
	}
	out := struct {
		LogGroups []logGroupOut `json:"logGroups"`
		NextToken string        `json:"nextToken,omitempty"`
	}{LogGroups: []logGroupOut{}, NextToken: next}
	for _, g := range page {
		arn := s.groupARN(r.account, g.Name)
		o := logGroupOut{LogGroupName: g.Name, CreationTime: g.Created, ARN: arn + ":*", LogGroupARN: arn, LogGroupClass: "STANDARD"}
		if g.RetentionDays > 0 {
			o.RetentionInDays = &g.RetentionDays
		}
		out.LogGroups = append(out.LogGroups, o)
	}
	return out, nil
}

// paginate returns the page of items a Describe operation's nextToken
// (an offset) and limit (default and most 50) ask for, and the token of
// the next page ("": none).
func paginate[T any](items []T, token *string, limit *int) ([]T, string, error) {
	offset := 0
	if token != nil {
		b, err := base64.RawURLEncoding.DecodeString(*token)
		if err != nil {
			return nil, "", errToken
		}
		o, err := strconv.Atoi(strings.TrimPrefix(string(b), "o/"))
		if err != nil || !strings.HasPrefix(string(b), "o/") || o < 0 || o > len(items) {
			return nil, "", errToken
		}
		offset = o
	}
	n := 50
	if limit != nil {
		n = *limit
	}
	end := min(len(items), offset+n)
	next := ""
	if end < len(items) {
		next = base64.RawURLEncoding.EncodeToString([]byte("o/" + strconv.Itoa(end)))
	}
	return items[offset:end], next, nil
}
