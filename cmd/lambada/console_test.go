package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/chromedp/chromedp"
)

// screenshots is where the console's screenshots are written: where the
// README shows them.
const screenshots = "../../docs/console"

var installChromium sync.Once

// mustChromium returns the path of Debian's Chromium, installing it with
// .ci/install-chromium when it is missing.
func mustChromium(t *testing.T) string {
	t.Helper()
	installChromium.Do(func() {
		if _, err := exec.LookPath("chromium"); err != nil {
			out, err := exec.Command("../../.ci/install-chromium").CombinedOutput()
			t.Logf("installing chromium: %v\n%s", err, out)
		}
	})
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("the console's tests need Debian's chromium (.ci/install-chromium installs it): %v", err)
	}
	return path
}

// browser is a headless Chromium tab for the test, closed when it ends.
func browser(t *testing.T) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(mustChromium(t)),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1200, 900),
		// This machine's network is closed: Chromium must not try it.
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(alloc)
	ctx, cancelTime := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(func() { cancelTime(); cancelTab(); cancelAlloc() })
	return ctx
}

// do runs steps in the tab, failing the test with what was being done.
func do(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// get runs one action of a value in the tab.
func get[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

// until waits in the page until the JavaScript expression is true.
func until(expression string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Poll[bool](expression, chromedp.WithPollingTimeout(60*time.Second))(ctx, t)
		return err
	})
}

// screenshot writes the page as name.png where the README shows it.
func screenshot(name string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		png, err := chromedp.FullScreenshot(100)(ctx, t)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(screenshots, name+".png"), png, 0o644)
	})
}

// TestConsole_Chromium uses the web console as a person does, in headless
// Chromium: the list of functions, a function's page, an invocation from
// the Test tab, a log line appearing, a chart with data, and the page on a
// phone-sized screen; each page's screenshot goes to docs/console.
func TestConsole_Chromium(t *testing.T) {
	t.Parallel()
	m := MustOpenMain(t, "")
	c := client(m)
	MustCreateFunction(t, c, "hello-console", 10, nil)
	mustPublish(t, c, "hello-console")
	if _, err := c.CreateAlias(context.Background(), &lambda.CreateAliasInput{FunctionName: aws.String("hello-console"),
		Name: aws.String("live"), FunctionVersion: aws.String("1")}); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		sdkInvoke(t, c, &lambda.InvokeInput{FunctionName: aws.String("hello-console"), Payload: printEvent("warming up")})
	}
	base := "http://" + m.Addr()
	ctx := browser(t)
	css := func(sel string) chromedp.CSS { return chromedp.CSS(sel) }

	do(t, ctx, "the list of functions",
		chromedp.Navigate(base+"/console/"),
		chromedp.WaitVisible(css(`#functions`)),
		screenshot("functions"))
	list := get(t, ctx, "the list's rows", chromedp.Text(css(`#functions tbody`)))
	for _, want := range []string{"hello-console", "Active", "provided.al2023", "128 MB", "this minute"} {
		if !strings.Contains(list, want) {
			t.Errorf("the list lacks %q:\n%s", want, list)
		}
	}

	do(t, ctx, "a function's page",
		chromedp.Click(css(`a[href="/console/functions/hello-console"]`)),
		chromedp.WaitVisible(css(`#configuration`)))
	config := get(t, ctx, "the configuration", chromedp.Text(css(`#configuration`)))
	for _, want := range []string{"bootstrap", "arn:aws:iam::123456789012:role/any", "/aws/lambda/hello-console", "live", "none (the account's unreserved pool)"} {
		if !strings.Contains(config, want) {
			t.Errorf("the configuration lacks %q:\n%s", want, config)
		}
	}

	do(t, ctx, "an invocation from the Test tab",
		chromedp.SetValue(css(`#event`), `{"action":"print","msg":"hello from the console"}`),
		chromedp.Click(css(`#invoke`)),
		until(`document.getElementById("status").textContent !== ""`),
		chromedp.ScrollIntoView(css(`#test`)),
		screenshot("test"))
	status := get(t, ctx, "the status", chromedp.Text(css(`#status`)))
	tail := get(t, ctx, "the log tail", chromedp.Text(css(`#tail`)))
	duration := get(t, ctx, "the duration", chromedp.Text(css(`#duration`)))
	if status != "Succeeded" || !strings.Contains(tail, "hello from the console") || !strings.Contains(tail, "REPORT RequestId: ") ||
		!strings.HasPrefix(duration, "Duration ") {
		t.Errorf("the Test tab shows %q, %q and the tail\n%s", status, duration, tail)
	}
	do(t, ctx, "a function error from the Test tab",
		chromedp.SetValue(css(`#event`), `{"action":"error","msg":"it broke"}`),
		chromedp.Click(css(`#invoke`)),
		until(`document.getElementById("status").textContent.startsWith("Function error")`))
	status = get(t, ctx, "the status", chromedp.Text(css(`#status`)))
	response := get(t, ctx, "the response", chromedp.Text(css(`#response`)))
	if status != "Function error (Unhandled)" || !strings.Contains(response, `"errorMessage": "it broke"`) {
		t.Errorf("the Test tab shows %q and %q", status, response)
	}

	// A line the function prints, invoked from elsewhere, appears in the
	// Logs tab.
	do(t, ctx, "the console's own invocation in the logs",
		until(`document.getElementById("loglines").textContent.includes("hello from the console")`))
	sdkInvoke(t, c, &lambda.InvokeInput{FunctionName: aws.String("hello-console"), Qualifier: aws.String("live"), Payload: printEvent("a line from elsewhere")})
	do(t, ctx, "a new log line",
		until(`document.getElementById("loglines").textContent.includes("a line from elsewhere")`),
		chromedp.ScrollIntoView(css(`#logs`)),
		screenshot("logs"))

	// The charts show the invocations: refreshed every ten seconds.
	do(t, ctx, "a chart with data",
		until(`[...document.querySelectorAll("#chart-invocations rect.bar")].reduce((n, r) => n + Number(r.dataset.value), 0) >= 6`),
		until(`document.querySelectorAll("#chart-errors rect.bar").length > 0`),
		until(`document.querySelectorAll("#chart-duration polyline.p99").length > 0`),
		chromedp.ScrollIntoView(css(`#monitor`)),
		screenshot("monitor"))

	// On a phone-sized screen nothing is wider than the screen.
	do(t, ctx, "a phone-sized screen",
		chromedp.EmulateViewport(390, 844),
		chromedp.Navigate(base+"/console/functions/hello-console"),
		chromedp.WaitVisible(css(`#test`)),
		screenshot("phone"))
	if width := get(t, ctx, "the page's width", chromedp.Evaluate[int](`document.documentElement.scrollWidth`)); width > 390 {
		t.Errorf("the page is %d px wide on a 390 px screen", width)
	}

	// A function that does not exist.
	do(t, ctx, "a missing function", chromedp.Navigate(base+"/console/functions/nope"))
	if missing := get(t, ctx, "the heading", chromedp.Text(css(`h1`))); missing != "No function nope" {
		t.Errorf("a missing function: %q", missing)
	}
}
