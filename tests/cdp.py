"""A small Chrome DevTools Protocol client for the documentation's browser test.

Headless Chromium (Debian's ``chromium``) is driven over its DevTools websocket with
``websocket-client``: no WebDriver, no browser download. Two independent records of the
network are kept: every request the page and its workers make, from the DevTools
``Network`` events, and everything Chromium's network stack did, from its NetLog file.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-quic",
    "--hide-scrollbars",
    "--disable-features=NetworkTimeServiceQuerying",
    "--remote-debugging-port=0",
    # Belt and braces: even if something tried, no host name resolves. The tests still
    # observe every attempt (DevTools events and the NetLog record requests, failed or not).
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]


def find_chromium() -> str | None:
    """Path of Debian's chromium (or a chromium on PATH), or None."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


class CDPError(RuntimeError):
    pass


class Browser:
    """Headless Chromium with a fresh profile, reached through the DevTools protocol."""

    def __init__(self, executable: str, workdir: Path, timeout: float = 30.0) -> None:
        self.workdir = Path(workdir)
        self.profile = self.workdir / "profile"
        self.profile.mkdir(parents=True, exist_ok=True)
        self.netlog = self.workdir / "netlog.json"
        self.timeout = timeout
        self.log = open(self.workdir / "chromium.log", "wb")
        self.process = subprocess.Popen(
            [
                executable,
                *FLAGS,
                f"--user-data-dir={self.profile}",
                f"--log-net-log={self.netlog}",
                "--net-log-capture-mode=Default",
                "about:blank",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        port_file = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + timeout
        while not port_file.exists() or len(port_file.read_text().splitlines()) < 2:
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise CDPError(f"chromium did not start; see {self.workdir / 'chromium.log'}")
            time.sleep(0.05)
        port, path = port_file.read_text().splitlines()[:2]
        import websocket  # websocket-client, from the docs extra

        self.ws = websocket.create_connection(
            f"ws://127.0.0.1:{port}{path}", timeout=timeout, suppress_origin=True
        )
        self._next_id = 0
        self.events: list[dict[str, Any]] = []

    # -- protocol ---------------------------------------------------------------------------
    def _receive(self) -> dict[str, Any]:
        message = json.loads(self.ws.recv())
        if "method" in message:
            self.events.append(message)
            self._on_event(message)
        return message

    def _on_event(self, event: dict[str, Any]) -> None:
        # Workers and frames attached automatically: record their requests too, then let them run.
        if event["method"] == "Target.attachedToTarget":
            session = event["params"]["sessionId"]
            self.send("Network.enable", session=session, wait=False)
            self.send("Runtime.runIfWaitingForDebugger", session=session, wait=False)

    def send(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        session: str | None = None,
        wait: bool = True,
    ) -> dict[str, Any]:
        self._next_id += 1
        message_id = self._next_id
        message: dict[str, Any] = {"id": message_id, "method": method, "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        self.ws.send(json.dumps(message))
        if not wait:
            return {}
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            reply = self._receive()
            if reply.get("id") == message_id:
                if "error" in reply:
                    raise CDPError(f"{method}: {reply['error']}")
                return reply.get("result", {})
        raise CDPError(f"{method}: no reply within {self.timeout} s")

    def wait_for(self, method: str, session: str, since: int = 0) -> dict[str, Any]:
        """The first event ``method`` of ``session`` at index ``since`` or later."""
        deadline = time.monotonic() + self.timeout
        index = since
        while True:
            while index < len(self.events):
                event = self.events[index]
                index += 1
                if event["method"] == method and event.get("sessionId") == session:
                    return event
            if time.monotonic() > deadline:
                raise CDPError(f"no {method} within {self.timeout} s")
            self._receive()

    # -- pages ------------------------------------------------------------------------------
    def new_page(self, width: int = 1280, height: int = 1600) -> Page:
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        for method, params in (
            ("Network.enable", {}),
            ("Page.enable", {}),
            ("Runtime.enable", {}),
            (
                "Target.setAutoAttach",
                {"autoAttach": True, "waitForDebuggerOnStart": True, "flatten": True},
            ),
            (
                "Emulation.setDeviceMetricsOverride",
                {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
            ),
        ):
            self.send(method, params, session=session)
        return Page(self, session)

    def requested_urls(self) -> list[str]:
        """Every URL a page or worker asked for, from the DevTools Network events."""
        return [
            e["params"]["request"]["url"]
            for e in self.events
            if e["method"] == "Network.requestWillBeSent"
        ]

    def failed_requests(self) -> list[dict[str, Any]]:
        """Requests that failed or came back with an HTTP error status."""
        urls = {
            e["params"]["requestId"]: e["params"]["request"]["url"]
            for e in self.events
            if e["method"] == "Network.requestWillBeSent"
        }
        failed = [
            {"url": urls.get(e["params"]["requestId"]), "error": e["params"]["errorText"]}
            for e in self.events
            if e["method"] == "Network.loadingFailed"
        ]
        failed += [
            {"url": e["params"]["response"]["url"], "status": e["params"]["response"]["status"]}
            for e in self.events
            if e["method"] == "Network.responseReceived"
            and e["params"]["response"]["status"] >= 400
        ]
        return failed

    def close(self) -> None:
        if getattr(self, "ws", None) is not None:
            try:
                self.send("Browser.close", wait=False)
            except Exception:  # the browser may already be gone; it is waited for below
                pass
            self.ws.close()
            self.ws = None
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()

    def netlog_requests(self) -> list[dict[str, str]]:
        """Every URL request Chromium's network stack started, from its NetLog (after close).

        Each has ``url``, ``initiator`` (the origin of the page that asked for it, or
        ``"not an origin"`` for navigations typed into the browser and for Chromium's own
        background services) and ``type`` (``"main frame"``, ``"other"``, ...).
        """
        log = json.loads(self.netlog.read_text(encoding="utf-8"))
        names = {number: name for name, number in log["constants"]["logEventTypes"].items()}
        return [
            {
                "url": event["params"]["url"],
                "initiator": event["params"].get("initiator", ""),
                "type": event["params"].get("request_type", ""),
            }
            for event in log["events"]
            if names.get(event["type"]) == "URL_REQUEST_START_JOB"
            and "url" in event.get("params", {})
        ]

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Page:
    def __init__(self, browser: Browser, session: str) -> None:
        self.browser = browser
        self.session = session

    def goto(self, url: str) -> None:
        """Navigate and wait for the load event and for every web font to finish loading."""
        since = len(self.browser.events)
        result = self.browser.send("Page.navigate", {"url": url}, session=self.session)
        if result.get("errorText"):
            raise CDPError(f"navigating to {url}: {result['errorText']}")
        self.browser.wait_for("Page.loadEventFired", self.session, since)
        self.evaluate("document.fonts.ready.then(() => document.fonts.status)", await_promise=True)

    def evaluate(self, expression: str, await_promise: bool = False) -> Any:
        result = self.browser.send(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": await_promise},
            session=self.session,
        )
        if "exceptionDetails" in result:
            raise CDPError(f"{expression[:60]}...: {result['exceptionDetails']}")
        return result["result"].get("value")

    def screenshot(self, path: Path, selector: str | None = None, height: int = 1500) -> Path:
        """A PNG of the viewport, or of ``height`` pixels from the top of ``selector``."""
        params: dict[str, Any] = {"format": "png"}
        if selector is not None:
            top = self.evaluate(
                f"document.querySelector({json.dumps(selector)}).getBoundingClientRect().top"
                " + window.scrollY"
            )
            width = self.evaluate("document.documentElement.clientWidth")
            params["clip"] = {
                "x": 0,
                "y": max(top - 16, 0),
                "width": width,
                "height": height,
                "scale": 1,
            }
            params["captureBeyondViewport"] = True
        data = self.browser.send("Page.captureScreenshot", params, session=self.session)["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path
