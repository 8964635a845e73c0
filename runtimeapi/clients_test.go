package runtimeapi

import (
	"context"
	"os/exec"
	"strings"
	"sync"
	"testing"
)

// recordingRuntime hands out one event and records every response.
type recordingRuntime struct {
	mu        sync.Mutex
	responses map[string]Response
}

func (r *recordingRuntime) Next(context.Context) (*Event, error) {
	return &Event{RequestID: "req-1", DeadlineMs: 1, InvokedARN: "arn", Payload: []byte(`{"hello":"world"}`)}, nil
}

func (r *recordingRuntime) Respond(id string, resp Response) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.responses == nil {
		r.responses = map[string]Response{}
	}
	r.responses[id] = resp
	return nil
}

func (r *recordingRuntime) InitError(Response) error { return nil }

// The Runtime API serves the HTTP clients runtimes are written with: curl
// (which asks Expect: 100-continue for a large body), Python's http.client
// and Node's http module. Each asks for the event and posts a small and a
// large answer over one connection where it keeps one.
func TestClients(t *testing.T) {
	large := strings.Repeat("x", 200<<10)
	for _, tc := range []struct {
		name string
		cmd  func(addr string) *exec.Cmd
	}{
		{"curl", func(addr string) *exec.Cmd {
			base := "http://" + addr + "/2018-06-01/runtime/invocation/"
			return exec.Command("sh", "-c", `curl -sf `+base+`next >/dev/null &&
curl -sf -X POST -d '{"small":1}' `+base+`small/response >/dev/null &&
head -c 204800 /dev/zero | tr '\0' x | curl -sf -X POST -H 'Content-Type: application/json' --data-binary @- `+base+`large/response >/dev/null &&
echo ok`)
		}},
		{"python", func(addr string) *exec.Cmd {
			return exec.Command("python3", "-c", `
import http.client, sys
c = http.client.HTTPConnection(sys.argv[1])
c.request("GET", "/2018-06-01/runtime/invocation/next")
r = c.getresponse(); assert r.getheader("Lambda-Runtime-Aws-Request-Id") == "req-1"; r.read()
c.request("POST", "/2018-06-01/runtime/invocation/small/response", body=b'{"small":1}')
r = c.getresponse(); assert r.status == 202, r.status; r.read()
c.request("POST", "/2018-06-01/runtime/invocation/large/response", body=b"x" * 204800)
r = c.getresponse(); assert r.status == 202, r.status; r.read()
print("ok")`, addr)
		}},
		{"node", func(addr string) *exec.Cmd {
			return exec.Command("node", "-e", `
const http = require("http"); const agent = new http.Agent({keepAlive: true});
const [host, port] = process.argv[1].split(":");
function req(method, path, body) { return new Promise((ok, fail) => {
  const r = http.request({host, port, method, path, agent}, res => { let b = ""; res.on("data", d => b += d); res.on("end", () => ok([res.statusCode, res.headers, b])); });
  r.on("error", fail); if (body) r.write(body); r.end(); }); }
(async () => {
  const [s, h] = await req("GET", "/2018-06-01/runtime/invocation/next");
  if (s !== 200 || h["lambda-runtime-aws-request-id"] !== "req-1") throw new Error("next " + s);
  if ((await req("POST", "/2018-06-01/runtime/invocation/small/response", '{"small":1}'))[0] !== 202) throw new Error("small");
  if ((await req("POST", "/2018-06-01/runtime/invocation/large/response", "x".repeat(204800)))[0] !== 202) throw new Error("large");
  console.log("ok"); agent.destroy();
})().catch(e => { console.error(e); process.exit(1); });`, addr)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := exec.LookPath(tc.cmd("x").Args[0]); err != nil {
				t.Skipf("%s is not installed", tc.name)
			}
			rt := &recordingRuntime{}
			srv := serveTest(t, rt)
			out, err := tc.cmd(strings.TrimPrefix(srv.URL, "http://")).CombinedOutput()
			if err != nil || strings.TrimSpace(string(out)) != "ok" {
				t.Fatalf("%v: %s", err, out)
			}
			rt.mu.Lock()
			defer rt.mu.Unlock()
			if got := string(rt.responses["small"].Body); got != `{"small":1}` {
				t.Errorf("small answer %q", got)
			}
			if got := string(rt.responses["large"].Body); got != large {
				t.Errorf("large answer of %d bytes, want %d", len(got), len(large))
			}
		})
	}
}
