#!/usr/bin/env python3
"""A small Chrome DevTools Protocol client for the console's browser tests
(tests/e2e/test_console.sh): starts Debian's headless chromium on a
temporary profile, opens a page and drives it over the page's websocket
(python3-websocket).  Console errors and uncaught exceptions are collected
so a test can require there were none."""
import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request

import websocket


class CDPError(Exception):
    pass


class Browser:
    def __init__(self, chromium="chromium", width=1280, height=900):
        self.profile = tempfile.mkdtemp(prefix="lodge-chromium-")
        args = [chromium, "--headless=new", "--no-sandbox", "--disable-gpu",
                "--no-first-run", "--no-default-browser-check",
                "--disable-extensions", "--disable-background-networking",
                "--disable-component-update", "--disable-sync",
                "--user-data-dir=" + self.profile,
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
                "--window-size=%d,%d" % (width, height), "about:blank"]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        port_file = os.path.join(self.profile, "DevToolsActivePort")
        end = time.time() + 30
        while not os.path.exists(port_file) or os.path.getsize(port_file) == 0:
            if time.time() > end or self.proc.poll() is not None:
                self.close()
                raise CDPError("chromium did not start (no DevToolsActivePort)")
            time.sleep(0.1)
        time.sleep(0.1)
        self.port = int(open(port_file).read().split("\n")[0])

    def page(self):
        req = urllib.request.Request(
            "http://127.0.0.1:%d/json/new?about:blank" % self.port,
            method="PUT")
        info = json.load(urllib.request.urlopen(req, timeout=10))
        return Page(info["webSocketDebuggerUrl"])

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.profile, ignore_errors=True)


class Page:
    def __init__(self, ws_url):
        self.ws = websocket.create_connection(ws_url, timeout=30,
                                              suppress_origin=True)
        self.next_id = 0
        self.events = []
        self.errors = []  # console errors and uncaught exceptions
        self.handlers = {}  # method -> fn(params), for Fetch interception
        # answers read by a nested send (a handler's call made while an
        # outer send waits): kept here for the send they belong to
        self.answers = {}
        self.send("Runtime.enable")
        self.send("Log.enable")
        self.send("Page.enable")
        self.send("Network.enable")

    def _dispatch(self, msg):
        m = msg.get("method")
        p = msg.get("params", {})
        if m == "Runtime.exceptionThrown":
            d = p["exceptionDetails"]
            ex = d.get("exception", {}).get("description") or d.get("text")
            self.errors.append("exception: %s" % ex)
        elif m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            self.errors.append("console.%s: %s" % (p["type"], " ".join(
                str(a.get("value", a.get("description", ""))) for a in p.get("args", []))))
        elif m == "Log.entryAdded" and p["entry"].get("level") == "error":
            self.errors.append("log: %s (%s)" % (p["entry"].get("text"), p["entry"].get("url", "")))
        if m in self.handlers:
            self.handlers[m](p)
        self.events.append(msg)
        if len(self.events) > 2000:
            del self.events[:1000]

    def send(self, method, params=None, timeout=30):
        self.next_id += 1
        mid = self.next_id
        self.ws.send(json.dumps({"id": mid, "method": method, "params": params or {}}))
        end = time.time() + timeout
        while True:
            msg = self.answers.pop(mid, None)
            if msg is None:
                self.ws.settimeout(max(0.1, end - time.time()))
                try:
                    msg = json.loads(self.ws.recv())
                except websocket.WebSocketTimeoutException:
                    raise CDPError("%s: no answer in %ss" % (method, timeout))
            if "id" in msg and msg["id"] != mid:
                self.answers[msg["id"]] = msg
                continue
            if msg.get("id") == mid:
                if "error" in msg:
                    raise CDPError("%s: %s" % (method, msg["error"]))
                return msg.get("result", {})
            if "method" in msg:
                self._dispatch(msg)

    def pump(self, seconds):
        """Read events for a while (Fetch handlers run from here too)."""
        end = time.time() + seconds
        while time.time() < end:
            self.ws.settimeout(max(0.05, end - time.time()))
            try:
                msg = json.loads(self.ws.recv())
            except websocket.WebSocketTimeoutException:
                return
            if "method" in msg:
                self._dispatch(msg)

    def eval(self, expr, await_promise=True):
        r = self.send("Runtime.evaluate", {"expression": expr,
                                           "awaitPromise": await_promise,
                                           "returnByValue": True})
        if "exceptionDetails" in r:
            raise CDPError("eval %r: %s" % (expr[:80], r["exceptionDetails"].get(
                "exception", {}).get("description", r["exceptionDetails"].get("text"))))
        return r["result"].get("value")

    def wait(self, expr, timeout=15):
        """Until expr is truthy in the page; returns its value or None."""
        end = time.time() + timeout
        while time.time() < end:
            try:
                v = self.eval(expr)
            except CDPError:
                v = None
            if v:
                return v
            self.pump(0.1)
        return None

    def goto(self, url):
        self.send("Page.navigate", {"url": url})

    def viewport(self, width, height, mobile=False):
        self.send("Emulation.setDeviceMetricsOverride", {
            "width": width, "height": height, "deviceScaleFactor": 1,
            "mobile": mobile})

    def screenshot(self, path, full=True):
        params = {"format": "png", "captureBeyondViewport": full}
        if full:
            m = self.send("Page.getLayoutMetrics")
            cs = m.get("cssContentSize") or m["contentSize"]
            params["clip"] = {"x": 0, "y": 0, "width": cs["width"],
                              "height": min(cs["height"], 6000), "scale": 1}
        data = self.send("Page.captureScreenshot", params)["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))

    def close(self):
        try:
            self.ws.close()
        except Exception:
            pass
