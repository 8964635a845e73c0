// The console's function page: the Test tab invokes the function through
// the node's Lambda API, the Logs tab follows its log group through the
// node's CloudWatch Logs API (both called by the console for its signed-in
// principal), the Monitor tab refreshes its charts.
"use strict";

const test = document.getElementById("test");
const fn = test.dataset.function;

function utf8(base64) {
  const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  return new TextDecoder().decode(bytes);
}

document.getElementById("invoke").addEventListener("click", async () => {
  const event = document.getElementById("event").value;
  const status = document.getElementById("status");
  const show = (text, cls, response, tail, duration) => {
    document.getElementById("result").hidden = false;
    status.textContent = text;
    status.className = cls;
    document.getElementById("response").textContent = response;
    document.getElementById("tail").textContent = tail;
    document.getElementById("duration").textContent = duration;
  };
  try {
    JSON.parse(event);
  } catch (e) {
    show("The event is not JSON: " + e.message, "error", "", "", "");
    return;
  }
  const started = performance.now();
  const res = await fetch("/console/api/invoke/" + encodeURIComponent(fn), {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-Lambada-Console": "1" },
    body: event,
  });
  const took = performance.now() - started;
  let body = await res.text();
  try {
    body = JSON.stringify(JSON.parse(body), null, 2);
  } catch (e) { /* not JSON: as it came */ }
  const tail = res.headers.get("X-Amz-Log-Result") ? utf8(res.headers.get("X-Amz-Log-Result")) : "";
  const report = /Duration: ([\d.]+) ms/.exec(tail) || /"durationMs":([\d.]+)/.exec(tail);
  const duration = report ? "Duration " + report[1] + " ms" : "round trip " + took.toFixed(1) + " ms";
  const fnError = res.headers.get("X-Amz-Function-Error");
  if (!res.ok) {
    show("Failed: " + res.status + " " + (res.headers.get("X-Amzn-Errortype") || ""), "error", body, tail, "");
  } else if (fnError) {
    show("Function error (" + fnError + ")", "error", body, tail, duration);
  } else {
    show("Succeeded", "ok", body, tail, duration);
  }
});

// Logs: every second, the events of the last while, each printed once.
const logs = document.getElementById("logs");
const lines = document.getElementById("loglines");
const seen = new Map();
let from = Date.now() - 10 * 60 * 1000;

function classOf(message) {
  if (/ERROR|Error|Exception|Task timed out|Status: (error|timeout)|"level":"(ERROR|FATAL)"/.test(message)) return "err";
  if (/^(START|END|REPORT|INIT_START|INIT_REPORT) |"type":"platform\./.test(message)) return "platform";
  return "";
}

async function follow() {
  let newest = from;
  let token;
  do {
    const res = await fetch("/console/api/logs", {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-Lambada-Console": "1" },
      body: JSON.stringify({ logGroupName: logs.dataset.group, startTime: from, nextToken: token }),
    });
    if (!res.ok) return; // no line yet: its group is made by the first
    const page = await res.json();
    for (const e of page.events) {
      newest = Math.max(newest, e.timestamp);
      if (seen.has(e.eventId)) continue;
      seen.set(e.eventId, e.timestamp);
      const line = document.createElement("span");
      line.className = "line " + classOf(e.message);
      line.textContent = new Date(e.timestamp).toISOString().slice(11, 23) + " " + e.message.replace(/\n$/, "") + "\n";
      lines.appendChild(line);
      lines.scrollTop = lines.scrollHeight;
    }
    token = page.nextToken;
  } while (token);
  // Lines are stored a little after they are written: ask again from a
  // while back, and forget what is before it.
  from = Math.max(from, newest - 5000);
  for (const [id, ts] of seen) if (ts < from) seen.delete(id);
}

async function loop(f, every) {
  try {
    await f();
  } catch (e) { /* the node may be restarting: try again */ }
  setTimeout(() => loop(f, every), every);
}
loop(follow, 1000);

// Monitor: the charts again every ten seconds.
const monitor = document.getElementById("monitor");
loop(async () => {
  const res = await fetch(monitor.dataset.charts);
  if (res.ok) document.getElementById("charts").innerHTML = await res.text();
}, 10000);
