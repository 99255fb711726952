"""Headless Chromium (Debian's ``chromium``) driven over the DevTools protocol on a pipe.

``--remote-debugging-pipe``: no port, no extra Python package. One browser is started
per process, on first use (:func:`browser`), and kept for the next pages, so a batch
pays the start-up once (about half a second). The browser never reaches the network:
every request that is not ``file:`` or ``data:`` is refused (DevTools ``Fetch``
interception, plus a host-resolver rule and a dead proxy as a second lock) and recorded
(:class:`PageLog`), which the browser tests read. What a page is printed as (A4, the
footer) is :mod:`sipas.publishing.pdf`'s business; this module only drives the browser.

``scripts/setup-system.sh`` installs ``chromium`` and ``fonts-dejavu-core``; when no
browser is found :func:`find_chromium` raises :class:`PdfUnavailable` with the reason.
"""

from __future__ import annotations

import atexit
import base64
import fcntl
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
TIMEOUT = 60.0


class PdfUnavailable(RuntimeError):
    """No PDF renderer on this machine (the message says why and what to install)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class BrowserError(RuntimeError):
    """The browser answered a DevTools command with an error, or did not answer."""


def find_chromium() -> str:
    """The browser executable: ``$SIPAS_CHROMIUM``, else the first of :data:`CANDIDATES` on PATH."""
    env = os.environ.get("SIPAS_CHROMIUM")
    if env:
        if Path(env).is_file() and os.access(env, os.X_OK):
            return env
        raise PdfUnavailable(f"SIPAS_CHROMIUM={env} is not an executable file")
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    raise PdfUnavailable("no Chromium browser found on PATH (looked for "
                         f"{', '.join(CANDIDATES)}); install it with `sudo scripts/setup-system.sh` "
                         "(Debian: apt-get install chromium fonts-dejavu-core)")


@dataclass
class PageLog:
    """What a page did while it loaded: console errors, exceptions, requests."""

    url: str
    console_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)

    @property
    def external_requests(self) -> list[str]:
        return [u for u in self.requests if not u.startswith(("file:", "data:", "about:"))]


class Browser:
    """A headless Chromium driven over the DevTools pipe. Use :func:`browser`."""

    def __init__(self, executable: str | None = None):
        self.executable = executable or find_chromium()
        self._profile = tempfile.mkdtemp(prefix="sipas-chromium-")
        cmd_r, self._cmd_w = os.pipe()  # we write commands, the browser reads fd 3
        self._res_r, res_w = os.pipe()  # the browser writes answers on fd 4
        # move the child's ends above 3 and 4 so that the dup2 below never clobbers them
        for_child = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in (cmd_r, res_w)]
        os.close(cmd_r)
        os.close(res_w)
        cmd_r, res_w = for_child

        def child_fds():  # runs in the child between fork and exec
            os.dup2(cmd_r, 3)
            os.dup2(res_w, 4)

        args = [self.executable, "--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-default-apps", "--disable-extensions", "--no-first-run", "--no-default-browser-check",
                "--disable-dev-shm-usage", "--hide-scrollbars", "--mute-audio", "--force-color-profile=srgb",
                "--font-render-hinting=none",
                "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
                f"--user-data-dir={self._profile}", "about:blank"]
        try:
            self._proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL, close_fds=False, preexec_fn=child_fds)
        except OSError as exc:
            raise PdfUnavailable(f"cannot start {self.executable}: {exc}") from None
        finally:
            os.close(cmd_r)
            os.close(res_w)
        self._lock = threading.Lock()
        self._cond = threading.Condition()
        self._next = 0
        self._answers: dict[int, dict] = {}
        self._events: list[dict] = []
        self._closed = False
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        try:
            self.version = self.call("Browser.getVersion", timeout=20)["product"]
        except BrowserError as exc:
            self.close()
            raise PdfUnavailable(f"{self.executable} did not start: {exc}") from None

    # ------------------------------------------------------------ protocol

    def _read(self) -> None:
        buf = b""
        while True:
            try:
                chunk = os.read(self._res_r, 1 << 16)
            except OSError:
                chunk = b""
            if not chunk:
                with self._cond:
                    self._closed = True
                    self._cond.notify_all()
                return
            buf += chunk
            while b"\0" in buf:
                raw, buf = buf.split(b"\0", 1)
                msg = json.loads(raw)
                with self._cond:
                    if "id" in msg:
                        self._answers[msg["id"]] = msg
                    else:
                        self._events.append(msg)
                    self._cond.notify_all()

    def call(self, method: str, params: dict | None = None, session: str | None = None,
             timeout: float = TIMEOUT) -> dict:
        with self._lock:
            self._next += 1
            mid = self._next
            msg = {"id": mid, "method": method, "params": params or {}}
            if session:
                msg["sessionId"] = session
            data = json.dumps(msg).encode() + b"\0"
            try:
                while data:
                    data = data[os.write(self._cmd_w, data):]
            except OSError as exc:
                raise BrowserError(f"{method}: browser gone ({exc})") from None
        deadline = time.monotonic() + timeout
        with self._cond:
            while mid not in self._answers:
                left = deadline - time.monotonic()
                if self._closed or left <= 0:
                    raise BrowserError(f"{method}: no answer from the browser"
                                       + (" (it exited)" if self._closed else f" within {timeout:.0f} s"))
                self._cond.wait(left)
            answer = self._answers.pop(mid)
        if "error" in answer:
            raise BrowserError(f"{method}: {answer['error'].get('message')}")
        return answer.get("result", {})

    def _take_events(self, session: str) -> list[dict]:
        with self._cond:
            mine = [e for e in self._events if e.get("sessionId") == session]
            self._events = [e for e in self._events if e.get("sessionId") != session]
        return mine

    def _wait_event(self, session: str, method: str, timeout: float, log: PageLog) -> None:
        deadline = time.monotonic() + timeout
        while True:
            for ev in self._take_events(session):
                self._handle(ev, session, log)
                if ev["method"] == method:
                    return
            with self._cond:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise BrowserError(f"page did not fire {method} within {timeout:.0f} s: {log.url}")
                if self._closed:
                    raise BrowserError("browser exited")
                self._cond.wait(min(left, 0.05))

    def _handle(self, ev: dict, session: str, log: PageLog) -> None:
        m, p = ev["method"], ev.get("params", {})
        if m == "Network.requestWillBeSent":
            log.requests.append(p["request"]["url"])
        elif m == "Fetch.requestPaused":  # only network schemes are intercepted: refuse them all
            log.blocked.append(p["request"]["url"])
            self._send(session, "Fetch.failRequest", {"requestId": p["requestId"], "errorReason": "BlockedByClient"})
        elif m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            log.console_errors.append(" ".join(str(a.get("value", a.get("description", ""))) for a in p["args"]))
        elif m == "Runtime.exceptionThrown":
            d = p["exceptionDetails"]
            log.console_errors.append(d.get("exception", {}).get("description") or d.get("text", "exception"))
        elif m == "Log.entryAdded" and p["entry"].get("level") == "error":
            log.console_errors.append(f"{p['entry'].get('source')}: {p['entry'].get('text')} {p['entry'].get('url', '')}")

    def _send(self, session: str, method: str, params: dict) -> None:
        """Fire a command from the event loop without waiting (its answer is dropped)."""
        threading.Thread(target=lambda: self._quiet(method, params, session), daemon=True).start()

    def _quiet(self, method, params, session):
        try:
            self.call(method, params, session, timeout=10)
        except BrowserError:
            pass

    # ------------------------------------------------------------ pages

    def open(self, path_or_url: str | Path, width: int = 1100, height: int = 900,
             timeout: float = TIMEOUT) -> Tab:
        url = path_or_url if isinstance(path_or_url, str) and ":" in path_or_url[:8] \
            else Path(path_or_url).resolve().as_uri()
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        log = PageLog(url)
        for method, params in (("Page.enable", {}), ("Runtime.enable", {}), ("Log.enable", {}),
                               ("Network.enable", {}),
                               ("Fetch.enable", {"patterns": [{"urlPattern": f"{scheme}:*"} for scheme in
                                                              ("http", "https", "ws", "wss", "ftp")]}),
                               ("Emulation.setDeviceMetricsOverride",
                                {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})):
            self.call(method, params, session)
        self._send(session, "Page.navigate", {"url": url})  # answered only once requests go on
        tab = Tab(self, target, session, log)
        self._wait_event(session, "Page.loadEventFired", timeout, log)
        tab.settle()
        return tab

    def close(self) -> None:
        try:
            if self._proc.poll() is None:
                try:
                    self.call("Browser.close", timeout=5)
                except BrowserError:
                    pass
                try:
                    self._proc.wait(5)
                except subprocess.TimeoutExpired:
                    self._proc.kill()
                    self._proc.wait(5)
        finally:
            for fd in (self._cmd_w, self._res_r):
                try:
                    os.close(fd)
                except OSError:
                    pass
            shutil.rmtree(self._profile, ignore_errors=True)


@dataclass
class Tab:
    browser: Browser
    target: str
    session: str
    log: PageLog

    def call(self, method: str, params: dict | None = None, timeout: float = TIMEOUT) -> dict:
        return self.browser.call(method, params, self.session, timeout)

    def settle(self) -> None:
        """Handle the events that arrived so far (requests, console)."""
        for ev in self.browser._take_events(self.session):
            self.browser._handle(ev, self.session, self.log)

    def evaluate(self, expression: str):
        res = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        self.settle()
        if "exceptionDetails" in res:
            raise BrowserError(res["exceptionDetails"].get("text", "evaluation failed"))
        return res["result"].get("value")

    def text(self) -> str:
        return self.evaluate("document.body.innerText")

    def screenshot(self, path: Path, full_page: bool = True) -> Path:
        params = {"format": "png"}
        if full_page:
            params["captureBeyondViewport"] = True
            w, h = self.evaluate("[document.documentElement.scrollWidth, document.documentElement.scrollHeight]")
            params["clip"] = {"x": 0, "y": 0, "width": w, "height": min(h, 16000), "scale": 1}
        data = self.call("Page.captureScreenshot", params)["data"]
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_bytes(base64.b64decode(data))
        return Path(path)

    def print_pdf(self, params: dict) -> bytes:
        """``Page.printToPDF`` with ``params`` (paper, margins, header and footer), print media."""
        self.call("Emulation.setEmulatedMedia", {"media": "print"})
        return base64.b64decode(self.call("Page.printToPDF", params, timeout=120)["data"])

    def close(self) -> None:
        try:
            self.browser.call("Target.closeTarget", {"targetId": self.target}, timeout=10)
        except BrowserError:
            pass

    def __enter__(self) -> Tab:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


_BROWSER: Browser | None = None
_BROWSER_PID: int | None = None
_BROWSER_LOCK = threading.Lock()


def browser() -> Browser:
    """This process's browser, started on first use and closed at exit."""
    global _BROWSER, _BROWSER_PID
    with _BROWSER_LOCK:
        if _BROWSER is not None and (_BROWSER_PID != os.getpid() or _BROWSER._closed):
            _BROWSER = None  # a forked child must not share its parent's pipes
        if _BROWSER is None:
            _BROWSER = Browser()
            _BROWSER_PID = os.getpid()
            atexit.register(_close_browser, _BROWSER)
        return _BROWSER


def _close_browser(b: Browser) -> None:
    global _BROWSER
    if _BROWSER_PID == os.getpid():
        b.close()
        if _BROWSER is b:
            _BROWSER = None


__all__ = ["CANDIDATES", "Browser", "BrowserError", "PageLog", "PdfUnavailable", "Tab", "browser", "find_chromium"]
