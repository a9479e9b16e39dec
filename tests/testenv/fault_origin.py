#!/usr/bin/env python3
"""Fault-injecting HTTP/1.1 origin for bgcopy's hermetic tests (python3 stdlib only).

Start:
    python3 fault_origin.py --root DIR --port-file FILE [--log FILE] [--port N]

Binds 127.0.0.1 (port 0 unless --port is given), writes the chosen port to --port-file
atomically (tmp file + rename) once listening, and exits with status 0 on SIGTERM or SIGINT.

Content
-------
GET/HEAD /<path>              a file under --root (404 if missing, 403 if it escapes the root).
                              ETag "f-<size hex>-<mtime_ns hex>", Last-Modified = file mtime.
GET/HEAD /gen/<size>?seed=N   synthetic bytes (seed defaults to 0). <size> is decimal bytes,
                              optionally suffixed k/m/g (binary: 1k = 1024).
                              ETag "g-<seed>-<size>", Last-Modified = 1700000000 + seed seconds.

Generator (tests/support/files.cpp gen_content() is the C++ twin): the stream is the
concatenation of 32-byte blocks; block i (i = 0, 1, ...) is
    SHA-256( b"bgcopy-gen" || uint64_le(seed) || uint64_le(i) )
and /gen/<size> is the first <size> bytes of that stream. Byte k depends only on (seed, k),
so ranges are cheap to produce.

Ranges: "Range: bytes=a-b", "bytes=a-" and "bytes=-n" get 206 + Content-Range; a range starting
at or beyond the end gets 416 with "Content-Range: bytes */size". A malformed or multi-range
header is ignored (full 200, as RFC 9110 allows). "If-Range" holding an ETag (strong comparison)
or an HTTP date (must equal Last-Modified) that does not match yields a full 200.

Directives (query parameters, combinable)
-----------------------------------------
Requests are counted per key: key=NAME if given, else path + query with every fail_* parameter
removed. n is the 1-based ordinal of a request for its key; F = fail_first (default 0).

status=N          answer N with a small text body (no body for 204/304 or HEAD).
retry_after=S     add "Retry-After: S" to status= and fail_first answers.
location=URL      add "Location: URL" to status= answers (redirect tests).
fail_first=K      requests with n <= K answer fail_status (default 503) instead.
fail_status=N     status used by fail_first.
drop_after=B      send headers and B body bytes, then shutdown+close the connection; only for
                  requests with F < n <= F + drop_times.
drop_times=K      how many requests drop_after applies to (default 1).
stall_after=B     send B body bytes, then hold the connection open without sending until the
                  client disconnects, 120 s pass, or the server stops; only for requests with
                  F < n <= F + stall_times.
stall_times=K     how many requests stall_after applies to (default: all).
ignore_range=1    always 200 with the full body, no Accept-Ranges header.
rate=BPS          throttle the body to about BPS bytes per second (0: unthrottled).
wrong_length=1    send a Content-Length 1024 bytes larger than the body, send the body, close.
no_validators=1   omit ETag and Last-Modified (If-Range then never matches).
change_after=K    /gen only: requests with n > K serve seed2 (default seed + 1) instead of seed,
                  with that seed's ETag and Last-Modified ("the remote file changed").
seed2=M           the seed used after change_after.

Control (neither counted nor logged)
------------------------------------
GET  /__stats     JSON object {key: request count}.
POST /__reset     clears the counters; answers {"ok": true}.

Log
---
One JSON object per line in --log (stderr without --log), written when the server is done with
the request (for stall_after: when the stall begins):
    {"t": unix time, "method", "target": path+query, "key", "n", "range", "if_range",
     "status", "bytes": body bytes sent,
     "outcome": "complete"|"drop"|"stall"|"wrong_length"|"aborted"}
"range" and "if_range" are "" when the header is absent; "aborted" means the client went away
(or the server stopped) before the body was sent.
"""

import argparse
import email.utils
import hashlib
import json
import os
import posixpath
import select
import signal
import socket
import struct
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

GEN_DOMAIN = b"bgcopy-gen"
GEN_BLOCK = 32
GEN_EPOCH = 1_700_000_000
CHUNK = 64 * 1024
STALL_LIMIT_S = 120.0
WRONG_LENGTH_EXTRA = 1024


def gen_bytes(seed, offset, length):
    """Bytes [offset, offset + length) of the /gen stream for seed."""
    if length <= 0:
        return b""
    first = offset // GEN_BLOCK
    last = (offset + length - 1) // GEN_BLOCK
    prefix = GEN_DOMAIN + struct.pack("<Q", seed & 0xFFFFFFFFFFFFFFFF)
    sha = hashlib.sha256
    data = b"".join(sha(prefix + struct.pack("<Q", i)).digest() for i in range(first, last + 1))
    start = offset - first * GEN_BLOCK
    return data[start:start + length]


def parse_size(text):
    mult = 1
    if text and text[-1] in "kKmMgG":
        mult = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}[text[-1].lower()]
        text = text[:-1]
    if not text.isdigit():
        raise ValueError("bad size")
    return int(text) * mult


def parse_range(header, size):
    """Returns None (ignore the header), "unsatisfiable", or (first, last) inclusive."""
    header = header.strip()
    if not header.startswith("bytes="):
        return None
    spec = header[len("bytes="):].strip()
    if "," in spec or "-" not in spec:
        return None
    first_s, last_s = (p.strip() for p in spec.split("-", 1))
    if first_s == "":
        if not last_s.isdigit():
            return None
        n = int(last_s)
        if n == 0 or size == 0:
            return "unsatisfiable"
        return (max(0, size - n), size - 1)
    if not first_s.isdigit() or (last_s and not last_s.isdigit()):
        return None
    first = int(first_s)
    if last_s and int(last_s) < first:
        return None
    if first >= size:
        return "unsatisfiable"
    last = int(last_s) if last_s else size - 1
    return (first, min(last, size - 1))


class Resource:
    """What a GET would serve: size, a reader and validators."""

    def __init__(self, size, read, etag, mtime):
        self.size = size
        self.read = read  # read(offset, length) -> bytes
        self.etag = etag
        self.mtime = mtime
        self.last_modified = email.utils.formatdate(mtime, usegmt=True)


class State:
    def __init__(self, root, log_path):
        self.root = os.path.realpath(root)
        self.lock = threading.Lock()
        self.counts = {}
        self.stop = threading.Event()
        self.log_lock = threading.Lock()
        self.log_file = open(log_path, "a", buffering=1) if log_path else None

    def count(self, key):
        with self.lock:
            n = self.counts.get(key, 0) + 1
            self.counts[key] = n
            return n

    def log(self, record):
        line = json.dumps(record, sort_keys=True)
        with self.log_lock:
            out = self.log_file if self.log_file else sys.stderr
            out.write(line + "\n")
            out.flush()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "bgcopy-fault-origin/1"
    state = None  # set by main()

    def log_message(self, format, *args):  # noqa: A002 - signature fixed by the base class
        pass

    # --- entry points -------------------------------------------------------------------------

    def do_GET(self):
        self._dispatch(head=False)

    def do_HEAD(self):
        self._dispatch(head=True)

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        if urllib.parse.urlsplit(self.path).path == "/__reset":
            with self.state.lock:
                self.state.counts.clear()
            self._simple(200, b'{"ok": true}\n', "application/json")
        else:
            self._simple(405, b"method not allowed\n")

    # --- helpers ------------------------------------------------------------------------------

    def _simple(self, status, body, ctype="text/plain", extra=(), head=False):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for name, value in extra:
            self.send_header(name, value)
        self.end_headers()
        if not head and body:
            self.wfile.write(body)
        return len(body) if not head else 0

    def _record(self, status, sent, outcome):
        self.state.log({
            "t": time.time(),
            "method": self.command,
            "target": self.path,
            "key": self._key,
            "n": self._n,
            "range": self.headers.get("Range", ""),
            "if_range": self.headers.get("If-Range", ""),
            "status": status,
            "bytes": sent,
            "outcome": outcome,
        })

    def _abort_connection(self):
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _resolve(self, path, params, n):
        """Returns a Resource, or (status, message) on failure."""
        if path.startswith("/gen/"):
            try:
                size = parse_size(path[len("/gen/"):])
                seed = int(params.get("seed", "0"))
                change_after = params.get("change_after")
                if change_after is not None and n > int(change_after):
                    seed = int(params.get("seed2", str(seed + 1)))
            except ValueError:
                return (400, "bad /gen size or seed")
            return Resource(size, lambda off, ln, s=seed: gen_bytes(s, off, ln),
                            '"g-%d-%d"' % (seed, size), GEN_EPOCH + (seed % 1_000_000_000))
        rel = posixpath.normpath(path).lstrip("/")
        full = os.path.realpath(os.path.join(self.state.root, rel))
        if full != self.state.root and not full.startswith(self.state.root + os.sep):
            return (403, "forbidden")
        if not os.path.isfile(full):
            return (404, "not found")
        st = os.stat(full)

        def read(off, ln, p=full):
            with open(p, "rb") as f:
                f.seek(off)
                return f.read(ln)

        return Resource(st.st_size, read, '"f-%x-%x"' % (st.st_size, st.st_mtime_ns),
                        st.st_mtime)

    def _if_range_matches(self, value, res, validators):
        if not validators:
            return False
        value = value.strip()
        if value.startswith('"') or value.startswith("W/"):
            return value == res.etag  # strong comparison: a weak tag never matches
        try:
            when = email.utils.parsedate_to_datetime(value).timestamp()
        except (TypeError, ValueError, IndexError):
            return False
        return int(when) == int(res.mtime)

    def _wait_for_disconnect(self):
        deadline = time.monotonic() + STALL_LIMIT_S
        sock = self.connection
        while time.monotonic() < deadline and not self.state.stop.is_set():
            ready, _, _ = select.select([sock], [], [], 0.2)
            if ready:
                try:
                    data = sock.recv(4096, socket.MSG_PEEK)
                except OSError:
                    return
                if not data:
                    return
                time.sleep(0.2)  # the client sent more bytes; keep holding the connection

    # --- the request --------------------------------------------------------------------------

    def _dispatch(self, head):
        split = urllib.parse.urlsplit(self.path)
        path = urllib.parse.unquote(split.path)
        pairs = urllib.parse.parse_qsl(split.query, keep_blank_values=True)
        params = dict(pairs)

        if path == "/__stats" and not head:
            with self.state.lock:
                body = json.dumps(self.state.counts, sort_keys=True).encode() + b"\n"
            self._simple(200, body, "application/json")
            return

        if "key" in params:
            self._key = params["key"]
        else:
            kept = [(k, v) for k, v in pairs if not k.startswith("fail_")]
            self._key = path + ("?" + urllib.parse.urlencode(kept) if kept else "")
        self._n = n = self.state.count(self._key)

        try:
            fail_first = int(params.get("fail_first", "0"))
            fail_status = int(params.get("fail_status", "503"))
            status = int(params["status"]) if "status" in params else None
            drop_after = int(params["drop_after"]) if "drop_after" in params else None
            drop_times = int(params.get("drop_times", "1"))
            stall_after = int(params["stall_after"]) if "stall_after" in params else None
            stall_times = int(params["stall_times"]) if "stall_times" in params else None
            rate = int(params["rate"]) if "rate" in params else None
            if rate is not None and rate <= 0:
                rate = None  # rate=0: unthrottled
        except ValueError:
            sent = self._simple(400, b"bad directive value\n", head=head)
            self._record(400, sent, "complete")
            return
        extra = []
        if "retry_after" in params:
            extra.append(("Retry-After", params["retry_after"]))

        if n <= fail_first:
            body = b"injected failure %d\n" % fail_status
            sent = self._simple(fail_status, body, extra=extra, head=head)
            self._record(fail_status, sent, "complete")
            return
        if status is not None:
            if "location" in params:
                extra.append(("Location", params["location"]))
            body = b"" if status in (204, 304) else b"status %d\n" % status
            sent = self._simple(status, body, extra=extra, head=head)
            self._record(status, sent, "complete")
            return

        res = self._resolve(path, params, n)
        if isinstance(res, tuple):
            code, message = res
            sent = self._simple(code, message.encode() + b"\n", head=head)
            self._record(code, sent, "complete")
            return

        validators = params.get("no_validators") != "1"
        ignore_range = params.get("ignore_range") == "1"
        wrong_length = params.get("wrong_length") == "1"
        after_fail = n - fail_first
        dropping = drop_after is not None and after_fail <= drop_times
        stalling = stall_after is not None and (stall_times is None or after_fail <= stall_times)

        first, last, code = 0, res.size - 1, 200
        range_header = self.headers.get("Range")
        if range_header is not None and not ignore_range:
            wanted = parse_range(range_header, res.size)
            if_range = self.headers.get("If-Range")
            if wanted is not None and if_range is not None and \
                    not self._if_range_matches(if_range, res, validators):
                wanted = None
            if wanted == "unsatisfiable":
                ext = [("Content-Range", "bytes */%d" % res.size)]
                sent = self._simple(416, b"range not satisfiable\n", extra=ext, head=head)
                self._record(416, sent, "complete")
                return
            if wanted is not None:
                first, last, code = wanted[0], wanted[1], 206
        length = last - first + 1

        self.send_response(code)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(length + (WRONG_LENGTH_EXTRA if wrong_length else 0)))
        if not ignore_range:
            self.send_header("Accept-Ranges", "bytes")
        if code == 206:
            self.send_header("Content-Range", "bytes %d-%d/%d" % (first, last, res.size))
        if validators:
            self.send_header("ETag", res.etag)
            self.send_header("Last-Modified", res.last_modified)
        if wrong_length:
            self.send_header("Connection", "close")
        self.end_headers()
        if head:
            self._record(code, 0, "complete")
            return

        limit, outcome = length, "complete"
        if dropping and drop_after < limit:
            limit, outcome = drop_after, "drop"
        if stalling and stall_after < limit:
            limit, outcome = stall_after, "stall"
        sent = 0
        started = time.monotonic()
        chunk = CHUNK if rate is None else max(1, min(CHUNK, rate // 20))
        try:
            while sent < limit:
                if self.state.stop.is_set():
                    outcome = "aborted"
                    break
                piece = res.read(first + sent, min(chunk, limit - sent))
                if not piece:
                    break  # a file shrank under us; the client sees a short body
                self.wfile.write(piece)
                sent += len(piece)
                if rate:
                    delay = started + sent / rate - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
        except OSError:
            self.close_connection = True
            self._record(code, sent, "aborted")
            return

        if wrong_length and outcome == "complete":
            outcome = "wrong_length"
        if outcome in ("drop", "wrong_length", "aborted"):
            self._record(code, sent, outcome)
            self._abort_connection()
        elif outcome == "stall":
            self._record(code, sent, outcome)
            self._wait_for_disconnect()
            self._abort_connection()
        else:
            self._record(code, sent, outcome)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        # Connections the client or a directive cut short are expected; report anything else.
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


def write_port_file(path, port):
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with open(tmp, "w") as f:
        f.write("%d\n" % port)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def main(argv=None):
    parser = argparse.ArgumentParser(description="bgcopy fault-injecting HTTP/1.1 origin")
    parser.add_argument("--root", required=True, help="directory served at /")
    parser.add_argument("--port-file", required=True, help="receives the listening port")
    parser.add_argument("--log", help="JSON-lines request log (default: stderr)")
    parser.add_argument("--port", type=int, default=0, help="port to bind (default: any)")
    args = parser.parse_args(argv)

    state = State(args.root, args.log)
    Handler.state = state
    server = Server(("127.0.0.1", args.port), Handler)

    def on_signal(signum, frame):
        state.stop.set()
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    write_port_file(args.port_file, server.server_address[1])
    try:
        server.serve_forever(poll_interval=0.05)
    finally:
        state.stop.set()
        server.server_close()
        if state.log_file:
            state.log_file.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
