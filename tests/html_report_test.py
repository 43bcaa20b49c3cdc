#!/usr/bin/python3
"""Tests plots/report.py: the page it writes for a copy of the reference run and for a tiny
synthetic run (a failed point whose reason holds a <script>, a command with '<' and '&', no
micro.json, no claims.json, no env.json).

  html_report_test.py --report plots/report.py --reference results/reference --out DIR [--browser]

Without --browser: the command line (--help, exit codes 2 and 1), atomic writing, escaping, and
that every chart and raw file is on the page, checked by parsing the HTML.
With --browser: each page is opened in headless Chromium over the DevTools protocol (on a pipe,
no port): every <img> must load (naturalWidth > 0), nothing may be logged at error level or
thrown, no request may leave file://, no injected script may run; a full-page screenshot of each
page is kept in DIR and its path printed. Exit 77 (skipped) when Chromium is absent."""
import argparse
import base64
import html.parser
import json
import os
import select
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zlib

SKIP = 77
CHROMIUM_CANDIDATES = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"]
failures = []


def check(condition, message):
    if not condition:
        failures.append(message)
        print(f"FAIL: {message}")
    return condition


# ---------------------------------------------------------------------------------------------
# The tiny synthetic run

HOSTILE_REASON = '<script>window.__pwned = "reason"</script> loadgen said: a < b && "c" > \'d\''
HOSTILE_COMMAND = ("/opt/mux bench/sweep --quick --out 'runs/a<b&c' "
                   "--note \"<img src=x onerror='window.__pwned=1'>\"")


def tiny_png(width, height, rgb=(43, 87, 151)):
    """A solid-colour PNG from the standard library."""
    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)
    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


TINY_SVG = """<?xml version="1.0" encoding="utf-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="400" height="200" viewBox="0 0 400 200">
<rect width="400" height="200" fill="#fff" stroke="#888"/>
<polyline points="20,180 120,120 220,90 380,30" fill="none" stroke="#d62728" stroke-width="3"/>
<text x="200" y="20" text-anchor="middle" font-size="14">synthetic throughput</text>
</svg>
"""


def point(pid, backend, idle, status, reason=None):
    p = {"id": pid, "series": "closed-split", "backend": backend, "idle": idle, "active": 2,
         "repeat": 1, "load": "closed", "placement": "split", "busy_poll": False,
         "total_fds": idle + 2, "status": status}
    if reason:
        p["reason"] = reason
    return p


def write_synthetic(run_dir):
    os.makedirs(os.path.join(run_dir, "points"))
    sweep = {
        "schema_version": 1, "kind": "sweep", "run_id": "tiny<&>", "status": "completed_with_failures",
        "command": HOSTILE_COMMAND, "started_utc": "2026-01-02T03:04:05Z",
        "finished_utc": "2026-01-02T03:05:10Z",
        "config": {"mode": "quick", "active": 2, "depth": 1, "rate": 1000.0, "duration_s": 0.5,
                   "repeats": 1, "idle": [0, 10], "backends": ["epoll-lt", "poll"],
                   "series": [{"name": "closed-split", "load": "closed", "placement": "split",
                               "busy_poll": False}]},
        "environment": {"kernel": "Linux 6.1 <test>", "cpu_model": "Synthetic & Co CPU",
                        "online_cpus": 2, "fd_limit": {"soft": 1024, "hard": 4096},
                        "build": {"type": "Release", "compiler": "GNU 12", "git_sha": "abc123",
                                  "git_dirty": True}},
        "micro": {"status": "failed", "reason": "wait-bench exited 1: <no output>"},
        "points": [point("closed-split__epoll-lt__idle0__r1", "epoll-lt", 0, "ok"),
                   point("closed-split__epoll-lt__idle10__r1", "epoll-lt", 10, "ok"),
                   point("closed-split__poll__idle0__r1", "poll", 0, "failed", HOSTILE_REASON),
                   point("closed-split__poll__idle10__r1", "poll", 10, "interrupted",
                         "the sweep was interrupted")],
        "aggregates": [],
    }
    with open(os.path.join(run_dir, "sweep.json"), "w") as f:
        json.dump(sweep, f, indent=2)
    with open(os.path.join(run_dir, "sweep.csv"), "w") as f:
        f.write("series,backend,idle\nclosed-split,epoll-lt,0\n")
    with open(os.path.join(run_dir, "summary.md"), "w") as f:
        f.write("# muxbench sweep summary\n\nRun `tiny<&>`: 2 points measured, 1 failed.\n"
                "Failure: <script>window.__pwned = 'summary'</script> and a < b & c.\n\n"
                "| backend | ok |\n|---|---:|\n| epoll-lt | 2 |\n| poll | 0 |\n")
    with open(os.path.join(run_dir, "throughput.svg"), "w") as f:
        f.write(TINY_SVG)
    with open(os.path.join(run_dir, "cpu_per_message.png"), "wb") as f:
        f.write(tiny_png(320, 160))
    with open(os.path.join(run_dir, "points", "closed-split__epoll-lt__idle0__r1.loadgen.json"),
              "w") as f:
        f.write("{}\n")


# ---------------------------------------------------------------------------------------------
# Without a browser


class PageParser(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.imgs, self.links, self.scripts, self.text = [], [], 0, []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.imgs.append(attrs.get("src"))
        elif tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])
        elif tag == "script":
            self.scripts += 1
        for name, value in attrs.items():
            check(not name.startswith("on"), f"an event-handler attribute on <{tag}>: {name}={value}")

    def handle_data(self, data):
        self.text.append(data)


def run_report(report, run_dir, *extra):
    return subprocess.run(["/usr/bin/python3", report, *extra, run_dir], capture_output=True,
                          text=True, timeout=120)


def parse_page(run_dir):
    with open(os.path.join(run_dir, "index.html"), encoding="utf-8") as f:
        page = f.read()
    parser = PageParser()
    parser.feed(page)
    return page, parser


def check_page_lists_everything(run_dir, parser):
    names = [n for n in os.listdir(run_dir) if n != "index.html" and not n.startswith(".")]
    for name in names:
        href = name + "/" if os.path.isdir(os.path.join(run_dir, name)) else name
        check(href in parser.links, f"{run_dir}: no link to {href}")
    stems = {os.path.splitext(n)[0] for n in names if n.endswith((".svg", ".png"))}
    shown = {os.path.splitext(s)[0] for s in parser.imgs}
    check(stems == shown, f"{run_dir}: charts {sorted(stems)} but images {sorted(shown)}")
    for src in parser.imgs:
        check("/" not in src and os.path.isfile(os.path.join(run_dir, src)),
              f"{run_dir}: <img src={src!r}> is not a file beside the page")
    check(not any(tempname.startswith(".index.html.") for tempname in os.listdir(run_dir)),
          f"{run_dir}: a temporary file was left behind")


def test_without_browser(report, reference_copy, tiny):
    done = run_report(report, reference_copy, "--help")
    check(done.returncode == 0 and "RESULTS_DIR" in done.stdout, f"--help: {done.returncode} {done.stdout}")
    done = subprocess.run(["/usr/bin/python3", report], capture_output=True, text=True)
    check(done.returncode == 2, f"no argument: exit {done.returncode}, want 2")
    done = run_report(report, os.path.join(tiny, "no-such-dir"))
    check(done.returncode == 2 and "no such directory" in done.stderr,
          f"missing directory: exit {done.returncode} ({done.stderr.strip()}), want 2")
    broken = tempfile.mkdtemp(prefix="broken-", dir=os.path.dirname(tiny))
    with open(os.path.join(broken, "sweep.json"), "w") as f:
        f.write('{"status": "compl')
    done = run_report(report, broken)
    check(done.returncode == 1 and "sweep.json" in done.stderr,
          f"truncated sweep.json: exit {done.returncode} ({done.stderr.strip()}), want 1")
    check(not os.path.exists(os.path.join(broken, "index.html")), "a page for a broken sweep.json")
    empty = tempfile.mkdtemp(prefix="empty-", dir=os.path.dirname(tiny))
    done = run_report(report, empty)
    check(done.returncode == 1, f"no sweep.json: exit {done.returncode}, want 1")

    for run_dir in (reference_copy, tiny):
        done = run_report(report, run_dir)
        if not check(done.returncode == 0, f"{run_dir}: exit {done.returncode}: {done.stderr}"):
            continue
        page, parser = parse_page(run_dir)
        check(parser.scripts == 1, f"{run_dir}: {parser.scripts} <script> elements, want 1 (sorting)")
        check("http://" not in page and "https://" not in page and "@import" not in page,
              f"{run_dir}: the page refers to the network")
        check_page_lists_everything(run_dir, parser)

    page, parser = parse_page(reference_copy)
    with open(os.path.join(reference_copy, "sweep.json")) as f:
        command = json.load(f)["command"]
    with open(os.path.join(reference_copy, "env.json")) as f:
        env = json.load(f)  # the page shows the machine and build the run recorded
    text = "".join(parser.text)
    for needle in (command, env["kernel"], env["cpu_model"], "20000 (soft)", env["build"]["git_sha"],
                   "Where epoll overtakes select and poll", "The map: where epoll-lt wins"):
        check(needle in text, f"reference page lacks {needle!r}")

    page, parser = parse_page(tiny)
    text = "".join(parser.text)
    for needle in (HOSTILE_COMMAND, HOSTILE_REASON, "<script>window.__pwned = 'summary'</script>",
                   "wait-bench exited 1: <no output>", "Synthetic & Co CPU", "Linux 6.1 <test>"):
        check(needle in text, f"tiny page does not show {needle!r} as text")
    check("<script>window" not in page and "<img src=x" not in page,
          "tiny page carries the hostile markup unescaped")


# ---------------------------------------------------------------------------------------------
# In Chromium, over the DevTools protocol on a pipe (fd 3: commands in, fd 4: replies out)


class Browser:
    def __init__(self, chromium, profile, log_path):
        to_child_r, self.to_child = os.pipe()
        self.from_child, from_child_w = os.pipe()

        def wire():
            # Through fresh copies: dup2 onto the same number would keep close-on-exec set.
            commands, replies = os.dup(to_child_r), os.dup(from_child_w)
            os.dup2(commands, 3)
            os.dup2(replies, 4)

        self.log = open(log_path, "w")
        self.proc = subprocess.Popen(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe",
             f"--user-data-dir={profile}", "--no-first-run", "--no-default-browser-check",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--disable-extensions", "--disable-default-apps", "--mute-audio",
             "--hide-scrollbars", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log,
            # os.pipe()'s descriptors close on exec; only the inheritable copies at 3 and 4 (made
            # after the fork) reach Chromium. close_fds would close those too.
            preexec_fn=wire, close_fds=False)
        os.close(to_child_r)
        os.close(from_child_w)
        self.buffer = b""
        self.next_id = 0
        self.events = []

    def send(self, method, params=None, session=None, timeout=60):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self.to_child, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self.receive(deadline)
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def receive(self, deadline):
        while b"\0" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("Chromium did not answer in time")
            ready, _, _ = select.select([self.from_child], [], [], left)
            if ready:
                chunk = os.read(self.from_child, 1 << 20)
                if not chunk:
                    raise RuntimeError("Chromium closed the DevTools pipe")
                self.buffer += chunk
        message, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(message)

    def wait_for(self, method, session, timeout=60):
        deadline = time.monotonic() + timeout
        for i, event in enumerate(self.events):
            if event.get("method") == method and event.get("sessionId") == session:
                return self.events.pop(i)
        while True:
            event = self.receive(deadline)
            if event.get("method") == method and event.get("sessionId") == session:
                return event
            self.events.append(event)

    def close(self):
        try:
            self.send("Browser.close", timeout=10)
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self.to_child)
        os.close(self.from_child)
        self.log.close()


# Clicks the raw-file table's first header twice (ascending, then descending).
SORT_CHECK = """
(() => {
  const files = document.querySelector("#files table");
  if (!files) return null;
  const th = files.tHead.rows[0].cells[0];
  const first = () => files.tBodies[0].rows[0].cells[0].textContent;
  th.click();
  const ascending = first();
  th.click();
  return {ascending: ascending, descending: first(), dir: th.getAttribute("data-dir")};
})()
"""

# Runs in the page after load: waits for every image to decode, then reports what it saw.
PAGE_CHECK = """
(async () => {
  const imgs = Array.from(document.images);
  await Promise.all(imgs.map(i => i.decode().catch(() => null)));
  return {
    title: document.title,
    images: imgs.map(i => ({src: i.getAttribute("src"), complete: i.complete,
                            width: i.naturalWidth, height: i.naturalHeight})),
    scripts: document.scripts.length,
    pwned: window.__pwned === undefined ? null : String(window.__pwned),
    sections: Array.from(document.querySelectorAll("main > section")).map(s => s.id),
    failedReasons: Array.from(document.querySelectorAll("#status td")).map(td => td.textContent),
    height: document.documentElement.scrollHeight,
  };
})()
"""


def render(browser, run_dir, screenshot):
    target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
    session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
    for domain in ("Page", "Runtime", "Log", "Network"):
        browser.send(f"{domain}.enable", session=session)
    browser.send("Emulation.setDeviceMetricsOverride",
                 {"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False},
                 session=session)
    url = "file://" + os.path.abspath(os.path.join(run_dir, "index.html"))
    browser.send("Page.navigate", {"url": url}, session=session)
    browser.wait_for("Page.loadEventFired", session)
    result = browser.send("Runtime.evaluate", {"expression": PAGE_CHECK, "awaitPromise": True,
                                               "returnByValue": True}, session=session)
    if "exceptionDetails" in result:
        raise RuntimeError(f"the check script failed: {result['exceptionDetails']}")
    seen = result["result"]["value"]
    shot = browser.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True},
                        session=session, timeout=120)
    with open(screenshot, "wb") as f:
        f.write(base64.b64decode(shot["data"]))
    result = browser.send("Runtime.evaluate", {"expression": SORT_CHECK, "returnByValue": True},
                          session=session)
    seen["sorted"] = result.get("result", {}).get("value")
    # Whatever arrived meanwhile: console messages, exceptions, log entries, requests.
    try:
        browser.send("Runtime.evaluate", {"expression": "1"}, session=session)
    except RuntimeError:
        pass
    events = [e for e in browser.events if e.get("sessionId") == session]
    browser.events = [e for e in browser.events if e.get("sessionId") != session]
    browser.send("Target.closeTarget", {"targetId": target})
    return seen, events


def problems_in(events):
    found = []
    for e in events:
        method, params = e.get("method"), e.get("params", {})
        if method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            found.append(f"exception: {details.get('text')} "
                         f"{details.get('exception', {}).get('description', '')}")
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert",
                                                                             "warning"):
            found.append(f"console.{params['type']}: {params.get('args')}")
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") in ("error",
                                                                                   "warning"):
            entry = params["entry"]
            found.append(f"log {entry['level']}: {entry.get('text')} {entry.get('url', '')}")
        elif method == "Network.requestWillBeSent":
            url = params.get("request", {}).get("url", "")
            if not url.startswith(("file://", "data:", "about:")):
                found.append(f"a network request: {url}")
        elif method == "Network.loadingFailed":
            found.append(f"a load failed: {params.get('errorText')} ({params.get('type')})")
    return found


def test_in_browser(chromium, out_dir, runs):
    profile = tempfile.mkdtemp(prefix="chromium-profile-", dir=out_dir)
    log_path = os.path.join(out_dir, "chromium.log")
    print(f"Chromium's own output: {log_path}")
    browser = Browser(chromium, profile, log_path)
    try:
        browser.send("Browser.getVersion")
        for name, run_dir, expect_images in runs:
            screenshot = os.path.join(out_dir, f"{name}.png")
            seen, events = render(browser, run_dir, screenshot)
            images = seen["images"]
            print(f"{name}: {len(images)} images, page {seen['height']} px tall, "
                  f"sections {seen['sections']}")
            check(len(images) == expect_images, f"{name}: {len(images)} images, want {expect_images}")
            for img in images:
                check(img["complete"] and img["width"] > 0 and img["height"] > 0,
                      f"{name}: image {img['src']} did not load ({img})")
            check(seen["scripts"] == 1, f"{name}: {seen['scripts']} scripts in the DOM, want 1")
            check(seen["pwned"] is None, f"{name}: injected script ran ({seen['pwned']})")
            check(seen["sections"] == ["status", "findings", "charts", "run", "files"],
                  f"{name}: sections {seen['sections']}")
            sorted_ = seen["sorted"]
            check(sorted_ is not None and sorted_["dir"] == "desc"
                  and sorted_["ascending"] < sorted_["descending"],
                  f"{name}: sorting the raw-file table by a click did not work: {sorted_}")
            for problem in problems_in(events):
                check(False, f"{name}: {problem}")
            print(f"{name}: screenshot {screenshot}")
            if name == "tiny":
                check(any(HOSTILE_REASON == r for r in seen["failedReasons"]),
                      f"tiny: the failure reason is not shown as text: {seen['failedReasons']}")
    finally:
        browser.close()
        shutil.rmtree(profile, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--report", required=True, help="plots/report.py")
    parser.add_argument("--reference", required=True, help="results/reference (copied, not written)")
    parser.add_argument("--out", required=True, help="the test's output directory (emptied)")
    parser.add_argument("--browser", action="store_true", help="render in headless Chromium")
    parser.add_argument("--chromium", help="the browser (default: /usr/bin/chromium)")
    args = parser.parse_args()

    chromium = None
    if args.browser:
        candidates = [args.chromium] if args.chromium else CHROMIUM_CANDIDATES
        chromium = next((c for c in candidates if c and os.access(c, os.X_OK)), None)
        if not chromium:
            print(f"SKIP: no Chromium at {', '.join(c for c in candidates if c)}; install Debian's "
                  "chromium (./scripts/setup --tests)")
            return SKIP

    out_dir = os.path.abspath(args.out)
    shutil.rmtree(out_dir, ignore_errors=True)
    os.makedirs(out_dir)
    reference_copy = os.path.join(out_dir, "reference")
    shutil.copytree(args.reference, reference_copy)
    tiny = os.path.join(out_dir, "tiny")
    write_synthetic(tiny)

    test_without_browser(args.report, reference_copy, tiny)
    if chromium and not failures:
        charts = len({os.path.splitext(n)[0] for n in os.listdir(reference_copy)
                      if n.endswith((".svg", ".png"))})
        test_in_browser(chromium, out_dir, [("reference", reference_copy, charts), ("tiny", tiny, 2)])
    if failures:
        print(f"{len(failures)} check(s) failed")
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
