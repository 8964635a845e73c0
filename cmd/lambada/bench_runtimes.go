package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/lambada-dev/lambada/bench"
	"github.com/lambada-dev/lambada/internal/testfn"
	"github.com/lambada-dev/lambada/runtimes"
)

// helloFunctions are the hello-world functions of managed runtimes that
// lambada bench measures: each answers its event.
var helloFunctions = []struct{ runtime, file, code string }{
	{"python3.11", "app.py", "def handler(event, context):\n    return event\n"},
	{"nodejs20.x", "app.js", "exports.handler = async (event) => event;\n"},
}

// measureRuntimes measures each hello-world function: cold starts beside
// bare starts of the same interpreter, client and handler, then warm
// invocations at the first level's concurrency.
func (c *benchCommand) measureRuntimes(ctx context.Context, cfg *benchConfig, api *lambda.Client, client *http.Client, endpoint, dir, suffix string) []*bench.RuntimeRun {
	var runs []*bench.RuntimeRun
	for _, h := range helloFunctions {
		run := &bench.RuntimeRun{Runtime: h.runtime}
		runs = append(runs, run)
		start, ok := runtimes.Command(h.runtime)
		if !ok {
			run.Skipped = "no interpreter on this host"
			continue
		}
		code := filepath.Join(dir, "hello-"+h.runtime)
		if err := os.MkdirAll(code, 0o755); err != nil {
			run.Skipped = err.Error()
			continue
		}
		if err := os.WriteFile(filepath.Join(code, h.file), []byte(h.code), 0o644); err != nil {
			run.Skipped = err.Error()
			continue
		}
		zipped, err := testfn.ZipFiles(map[string]string{h.file: h.code})
		if err != nil {
			run.Skipped = err.Error()
			continue
		}
		name := "bench-hello-" + suffix + "-" + fmt.Sprint(len(runs))
		if _, err := api.CreateFunction(ctx, &lambda.CreateFunctionInput{
			FunctionName: aws.String(name), Runtime: types.Runtime(h.runtime), Handler: aws.String("app.handler"),
			Role: aws.String("arn:aws:iam::000000000000:role/lambada-bench"), Code: &types.FunctionCode{ZipFile: zipped},
		}); err != nil {
			run.Skipped = err.Error()
			continue
		}
		if cfg.EndpointURL != "" {
			defer deleteBenchFunction(ctx, api, name)
		}
		if err := waitReady(ctx, api, name); err != nil {
			run.Skipped = err.Error()
			continue
		}
		c.progress("%s: %d cold starts beside %d bare starts", h.runtime, cfg.Cold, cfg.Cold)
		cold, bare := coldStarts(ctx, api, client, endpoint, name, func(ctx context.Context) (time.Duration, error) {
			return bench.BareStartCommand(ctx, start.Args, code, "app.handler")
		}, cfg.Cold)
		run.Cold, run.Bare = &cold, &bare
		do := bench.Poster(client, invokeURL(endpoint, name), bench.Body)
		bench.Run(ctx, bench.Load{Concurrency: 1, Requests: 50}, do)
		warm := bench.Run(ctx, bench.Load{Concurrency: 1, Requests: cfg.Requests, Duration: cfg.Duration}, do)
		run.Warm = &warm
	}
	return runs
}
