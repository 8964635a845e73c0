package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/lambada-dev/lambada/internal/poll"
	"github.com/lambada-dev/lambada/metrics"
)

// TestCloudWatch_CLI reads a function's metrics with aws cloudwatch
// get-metric-statistics, get-metric-data and list-metrics after known
// invocations, errors and throttles.
func TestCloudWatch_CLI(t *testing.T) {
	t.Parallel()
	m := MustOpenMain(t, "")
	c := client(m)
	ctx := context.Background()
	MustCreateFunction(t, c, "watched", 10, nil)
	for range 5 {
		sdkInvoke(t, c, &lambda.InvokeInput{FunctionName: aws.String("watched"), Payload: []byte(`{"action":"noop"}`)})
	}
	for range 2 {
		if out, _ := sdkInvoke(t, c, &lambda.InvokeInput{FunctionName: aws.String("watched"), Payload: []byte(`{"action":"error","msg":"no"}`)}); out.FunctionError == nil {
			t.Fatal("no function error")
		}
	}
	if _, err := c.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{FunctionName: aws.String("watched"), ReservedConcurrentExecutions: aws.Int32(0)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("watched")}); apiErrorCode(err) != "TooManyRequestsException" {
		t.Fatalf("not throttled: %v", err)
	}
	// Each Duration is observed when its REPORT is written, after its
	// caller has its answer.
	poll.Until(t, 30*time.Second, "seven durations", func() bool {
		n := 0.0
		for _, p := range m.metrics.History.Query(metrics.MetricQuery{Name: "Duration", Dimensions: map[string]string{"FunctionName": "watched"},
			Start: time.Now().Add(-time.Hour), End: time.Now().Add(time.Minute), Period: time.Hour}) {
			n += p.Count
		}
		return n == 7
	})
	start, end := time.Now().Add(-10*time.Minute).UTC().Format(time.RFC3339), time.Now().Add(2*time.Minute).UTC().Format(time.RFC3339)
	cw := func(args ...string) map[string]any {
		t.Helper()
		stdout, stderr, code := awsCLI(t, m, append([]string{"cloudwatch"}, args...)...)
		if code != 0 {
			t.Fatalf("aws cloudwatch %v: %d %s", args, code, stderr)
		}
		var out map[string]any
		if err := json.Unmarshal([]byte(stdout), &out); err != nil {
			t.Fatalf("aws cloudwatch %v printed %q", args, stdout)
		}
		return out
	}
	stats := func(metric, stat string, extra ...string) (total float64, points []any) {
		t.Helper()
		out := cw(append([]string{"get-metric-statistics", "--namespace", "AWS/Lambda", "--metric-name", metric,
			"--dimensions", "Name=FunctionName,Value=watched", "--start-time", start, "--end-time", end, "--period", "60"}, extra...)...)
		points, _ = out["Datapoints"].([]any)
		for _, p := range points {
			v, _ := p.(map[string]any)[stat].(float64)
			total += v
		}
		return total, points
	}
	for metric, want := range map[string]float64{"Invocations": 7, "Errors": 2, "Throttles": 1} {
		if got, points := stats(metric, "Sum", "--statistics", "Sum"); got != want {
			t.Errorf("%s: Sum %v, want %v (%v)", metric, got, want, points)
		}
	}
	n, points := stats("Duration", "SampleCount", "--statistics", "SampleCount", "Maximum", "--extended-statistics", "p99")
	if n != 7 || len(points) == 0 {
		t.Fatalf("Duration: %v data points in %v", n, points)
	}
	p := points[0].(map[string]any)
	if p["Unit"] != "Milliseconds" || p["ExtendedStatistics"].(map[string]any)["p99"].(float64) > p["Maximum"].(float64) {
		t.Errorf("Duration data point %v", p)
	}
	// The AWS CLI v1 prints a timestamp as it came: AWS JSON 1.0 sends
	// seconds since the epoch, at the start of a minute.
	if ts, ok := p["Timestamp"].(float64); !ok || int64(ts)%60 != 0 || time.Since(time.Unix(int64(ts), 0)) > 10*time.Minute {
		t.Errorf("Timestamp %v", p["Timestamp"])
	}

	queries := `[{"Id":"inv","MetricStat":{"Metric":{"Namespace":"AWS/Lambda","MetricName":"Invocations","Dimensions":[{"Name":"FunctionName","Value":"watched"}]},"Period":300,"Stat":"Sum"}},` +
		`{"Id":"dur","MetricStat":{"Metric":{"Namespace":"AWS/Lambda","MetricName":"Duration","Dimensions":[{"Name":"FunctionName","Value":"watched"}]},"Period":3600,"Stat":"p99"},"Label":"p99 duration"}]`
	data := cw("get-metric-data", "--metric-data-queries", queries, "--start-time", start, "--end-time", end)
	results := data["MetricDataResults"].([]any)
	if len(results) != 2 {
		t.Fatalf("get-metric-data: %v", data)
	}
	inv, dur := results[0].(map[string]any), results[1].(map[string]any)
	total := 0.0
	for _, v := range inv["Values"].([]any) {
		total += v.(float64)
	}
	if inv["Id"] != "inv" || inv["StatusCode"] != "Complete" || total != 7 || dur["Label"] != "p99 duration" || len(dur["Values"].([]any)) != 1 {
		t.Errorf("get-metric-data: %v", data)
	}

	list := cw("list-metrics", "--namespace", "AWS/Lambda", "--dimensions", "Name=FunctionName,Value=watched")
	names := map[string]bool{}
	for _, m := range list["Metrics"].([]any) {
		names[m.(map[string]any)["MetricName"].(string)] = true
	}
	for _, want := range []string{"Invocations", "Errors", "Throttles", "Duration"} {
		if !names[want] {
			t.Errorf("list-metrics lacks %s: %v", want, list)
		}
	}

	_, stderr, code := awsCLI(t, m, "cloudwatch", "get-metric-statistics", "--namespace", "AWS/Lambda", "--metric-name", "Invocations",
		"--start-time", start, "--end-time", end, "--period", "61", "--statistics", "Sum")
	if code == 0 || !strings.Contains(stderr, "An error occurred (InvalidParameterValue) when calling the GetMetricStatistics operation: The parameter Period must be a multiple of 60.") {
		t.Errorf("period 61: %d %s", code, stderr)
	}
	_, stderr, code = awsCLI(t, m, "cloudwatch", "get-metric-statistics", "--namespace", "AWS/Lambda", "--metric-name", "Invocations",
		"--start-time", "2026-01-01T00:00:00Z", "--end-time", "2026-01-03T00:00:00Z", "--period", "60", "--statistics", "Sum")
	if code == 0 || !strings.Contains(stderr, "(InvalidParameterCombination) when calling the GetMetricStatistics operation: You have requested up to 2,880 datapoints, which exceeds the limit of 1,440.") {
		t.Errorf("two days by the minute: %d %s", code, stderr)
	}
}

// TestCloudWatch_GoSDK reads the metrics with the AWS SDK for Go, which
// speaks Smithy RPC v2 CBOR to CloudWatch.
func TestCloudWatch_GoSDK(t *testing.T) {
	t.Parallel()
	m := MustOpenMain(t, "")
	c := client(m)
	ctx := context.Background()
	MustCreateFunction(t, c, "cbor", 10, nil)
	mustPublish(t, c, "cbor")
	if _, err := c.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: aws.String("cbor"), Name: aws.String("live"), FunctionVersion: aws.String("1")}); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		sdkInvoke(t, c, &lambda.InvokeInput{FunctionName: aws.String("cbor"), Qualifier: aws.String("live"), Payload: []byte(`{"action":"noop"}`)})
	}
	sdkInvoke(t, c, &lambda.InvokeInput{FunctionName: aws.String("cbor"), Payload: []byte(`{"action":"noop"}`)})
	cw := cloudwatch.New(cloudwatch.Options{Region: "us-east-1", BaseEndpoint: aws.String("http://" + m.Addr()),
		Credentials: credentials.NewStaticCredentialsProvider("x", "x", ""), RetryMaxAttempts: 1})
	start, end := time.Now().Add(-10*time.Minute), time.Now().Add(2*time.Minute)
	sum := func(dims ...cwtypes.Dimension) float64 {
		t.Helper()
		out, err := cw.GetMetricStatistics(ctx, &cloudwatch.GetMetricStatisticsInput{Namespace: aws.String("AWS/Lambda"), MetricName: aws.String("Invocations"),
			Dimensions: dims, StartTime: &start, EndTime: &end, Period: aws.Int32(3600), Statistics: []cwtypes.Statistic{cwtypes.StatisticSum}})
		if err != nil {
			t.Fatal(err)
		}
		total := 0.0
		for _, p := range out.Datapoints {
			total += aws.ToFloat64(p.Sum)
			if p.Timestamp == nil || p.Timestamp.After(time.Now()) || p.Unit != cwtypes.StandardUnitCount {
				t.Errorf("data point %+v", p)
			}
		}
		return total
	}
	fn := cwtypes.Dimension{Name: aws.String("FunctionName"), Value: aws.String("cbor")}
	if got := sum(fn); got != 4 {
		t.Errorf("Invocations of cbor: %v, want 4", got)
	}
	if got := sum(fn, cwtypes.Dimension{Name: aws.String("Resource"), Value: aws.String("cbor:live")}); got != 3 {
		t.Errorf("Invocations of cbor:live: %v, want 3", got)
	}
	if got := sum(); got != 4 {
		t.Errorf("Invocations of the account: %v, want 4", got)
	}
	data, err := cw.GetMetricData(ctx, &cloudwatch.GetMetricDataInput{StartTime: &start, EndTime: &end, ScanBy: cwtypes.ScanByTimestampAscending,
		MetricDataQueries: []cwtypes.MetricDataQuery{{Id: aws.String("d"), MetricStat: &cwtypes.MetricStat{
			Metric: &cwtypes.Metric{Namespace: aws.String("AWS/Lambda"), MetricName: aws.String("Duration"), Dimensions: []cwtypes.Dimension{fn}},
			Period: aws.Int32(60), Stat: aws.String("Maximum")}}}})
	if err != nil || len(data.MetricDataResults) != 1 || len(data.MetricDataResults[0].Values) == 0 || data.MetricDataResults[0].StatusCode != cwtypes.StatusCodeComplete {
		t.Fatalf("GetMetricData: %+v %v", data, err)
	}
	_, err = cw.GetMetricStatistics(ctx, &cloudwatch.GetMetricStatisticsInput{Namespace: aws.String("AWS/Lambda"), MetricName: aws.String("Invocations"),
		StartTime: &end, EndTime: &start, Period: aws.Int32(60), Statistics: []cwtypes.Statistic{cwtypes.StatisticSum}})
	if apiErrorCode(err) != "InvalidParameterValue" || !strings.Contains(err.Error(), "The parameter StartTime must be less than the parameter EndTime.") {
		t.Errorf("StartTime after EndTime: %v", err)
	}
}
