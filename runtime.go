package lambada

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
	"sync"
)

// Runtimes this node can run. Others in AWS's enum are valid on the wire but
// not offered here yet.
const (
	RuntimeProvidedAL2023 = "provided.al2023"
	RuntimeProvidedAL2    = "provided.al2"
)

// runtimeBuild is the build of the runtimes this node runs. For the
// provided.* runtimes that is the environment a bootstrap gets (variables,
// working directory, Runtime API); a change to it that functions can notice
// takes a new build, and with it a new RuntimeVersionArn.
const runtimeBuild = "lambada-1"

// RuntimeVersionARN returns the RuntimeVersionArn of a function configuration
// with runtime in region, as AWS shapes it: arn:aws:lambda:<region>::runtime:
// followed by 64 hex digits. Lambada's digits are the SHA-256 of the runtime
// identifier and its build, so the ARN is the same for every function of one
// runtime and changes only with a new build.
func RuntimeVersionARN(region, runtime string) string {
	sum := sha256.Sum256([]byte(runtime + "\x00" + runtimeBuild))
	return "arn:aws:lambda:" + region + "::runtime:" + hex.EncodeToString(sum[:])
}

// runtimeEnumText is the enum AWS prints for a Runtime it does not know: the
// runtimes it accepts for new functions, in AWS's own order
// (docs/aws-behaviour.md §7.2).
const runtimeEnumText = "[nodejs20.x, python3.14, provided.al2023, python3.12, python3.13, nodejs24.x, nodejs22.x, java25, python3.10, python3.11, java21, ruby3.3, ruby3.4, ruby3.2, python3.8, python3.9, java17, nodejs16.x, dotnet10, dotnet8, java11, dotnet6, nodejs18.x, provided.al2, java8.al2]"

// blockedRuntimes are in the API's enum, but AWS no longer lets functions be
// created or updated with them.
var blockedRuntimes = []string{
	"nodejs", "nodejs4.3", "nodejs4.3-edge", "nodejs6.10", "nodejs8.10", "nodejs10.x",
	"nodejs12.x", "nodejs14.x", "java8", "python2.7", "python3.6", "python3.7",
	"dotnetcore1.0", "dotnetcore2.0", "dotnetcore2.1", "dotnetcore3.1", "go1.x",
	"ruby2.5", "ruby2.7", "provided",
}

// offered are the runtimes this node runs: the provided ones, and those
// OfferRuntime adds (a managed runtime whose interpreter the node found).
var offered = struct {
	sync.Mutex
	list []string
}{list: []string{RuntimeProvidedAL2023, RuntimeProvidedAL2}}

// OfferRuntime makes runtime one this node runs.
func OfferRuntime(runtime string) {
	offered.Lock()
	defer offered.Unlock()
	if !slices.Contains(offered.list, runtime) {
		offered.list = append(offered.list, runtime)
	}
}

// OfferedRuntimes returns the runtimes this node runs.
func OfferedRuntimes() []string {
	offered.Lock()
	defer offered.Unlock()
	return slices.Clone(offered.list)
}

// RuntimeEnum is the list of runtimes AWS prints in a message about a value
// that is not one of them.
func RuntimeEnum() string { return runtimeEnumText }

// acceptedRuntimes are the runtimes of runtimeEnumText.
var acceptedRuntimes = strings.Split(strings.Trim(runtimeEnumText, "[]"), ", ")

// unlistedRuntimes are in the API model's enum but missing from the list AWS
// prints (it lags behind the newest runtime).
var unlistedRuntimes = []string{"ruby4.0"}

// KnownRuntime reports whether runtime is in the API's enum (case sensitive).
func KnownRuntime(runtime string) bool {
	return slices.Contains(acceptedRuntimes, runtime) || slices.Contains(blockedRuntimes, runtime) ||
		slices.Contains(unlistedRuntimes, runtime)
}

// CheckRuntime returns the InvalidParameterValueException for a runtime a
// function cannot be created or updated with here: one AWS does not know,
// one AWS has retired, or one this node does not offer.
func CheckRuntime(runtime string) error {
	runs := OfferedRuntimes()
	switch {
	case slices.Contains(runs, runtime):
		return nil
	case !KnownRuntime(runtime):
		return Errorf(EINVALID, "Value %s at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: %s or be a valid ARN", runtime, runtimeEnumText)
	case slices.Contains(blockedRuntimes, runtime):
		return Errorf(EINVALID, "The runtime parameter of %s is no longer supported for creating or updating AWS Lambda functions. We recommend you use a supported runtime while creating or updating functions.", runtime)
	}
	if strings.HasPrefix(runtime, "python3.") || strings.HasPrefix(runtime, "nodejs") { // Lambada runs it, given an interpreter
		return Errorf(EINVALID, "The runtime %s is not available on Lambada: no interpreter for it was found on this host; give one with lambada serve --runtime-path %s=/path/to/%s. Supported runtimes: %s.",
			runtime, runtime, runtime, strings.Join(runs, ", "))
	}
	return Errorf(EINVALID, "The runtime %s is not available on Lambada. Supported runtimes: %s.", runtime, strings.Join(runs, ", "))
}

// RuntimeVersion names the build of runtime that INIT_START reports, as AWS
// shapes it (python:3.12.v30): the runtime's family, a colon, its version,
// and Lambada's build: python:3.12.lambada-1, provided:al2023.lambada-1,
// nodejs:22.lambada-1.
func RuntimeVersion(runtime string) string {
	i := strings.IndexFunc(runtime, func(r rune) bool { return r == '.' || r >= '0' && r <= '9' })
	if i < 0 {
		return runtime + "." + runtimeBuild
	}
	family, version := runtime[:i], strings.TrimPrefix(runtime[i:], ".")
	return family + ":" + strings.TrimSuffix(version, ".x") + "." + runtimeBuild
}
