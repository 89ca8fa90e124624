"""Issue 9's framework choice: FastAPI (pydantic v2) against Litestar (msgspec), measured.

The same minimal order-entry endpoint in both, each served by uvicorn (one worker, uvloop when
installed, httptools, no access log; identical settings) in its own process on a free
127.0.0.1 port:

* ``POST /api/v1/orders``: a JSON body ``{symbol, side, type, timeInForce, quantity, price,
  clientOrderId}`` validated strictly (unknown fields refused, strings where strings belong,
  enums checked), quantity and price translated to lots and ticks with
  ``trade_engine.gateway.units.Units`` (BTC-USDT, tick 0.01, lot 0.0001), answered 200 with an
  order view. There is NO engine behind it: what is measured is the framework's own cost per
  request (parse, validate, route, translate, serialize), not an order's.
* ``GET /api/v1/depth?symbol=BTC-USDT``: a fixed 20-level book (decimal strings), built into the
  framework's response type on every request, to measure serialization.

Load comes from separate processes: ``wrk`` (Debian; one thread, N connections, closed loop)
for the sustained rate with p50/p99, and ``autocannon`` (npm; ``--overallRate``) for p99 at a
fixed rate. autocannon paces per connection and in bursts, not on an even schedule, and its
latencies are whole milliseconds (tried here on one server at 1,000/s: p50 under 1 ms with one
connection, 5 ms with 64, the server idle 94 % of the time): its p99 at the fixed rate shows a
framework under short bursts (hence few connections, 8) and is coarse; the server's CPU per
request is the finer figure there. The frameworks are alternated, a fresh server per pass;
best of the passes, every pass listed. The server process's CPU time (``/proc``) per request
is printed beside each figure: on a noisy VM it moves less than the rate does. Before
loading, each server is checked to refuse what it must (unknown field, number for a string,
off-tick price, bad enum, bad JSON) and to serve its OpenAPI document and Swagger UI; its
start-up time (spawn to first answer) is printed.

    scripts/bench-http.sh [--seconds 10] [--connections 64] [--rate 1000] [--passes 3]

Prints one line per measurement, a summary and one JSON line. Loopback only; stops by itself.
"""

import argparse
import contextlib
import importlib.metadata
import importlib.util
import itertools
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Literal

FRAMEWORKS = ("fastapi", "litestar")
SYMBOL = "BTC-USDT"
ORDER = {
    "symbol": SYMBOL,
    "side": "BUY",
    "type": "LIMIT",
    "timeInForce": "GTC",
    "quantity": "0.0150",
    "price": "50000.01",
    "clientOrderId": "bench-order-1",
}
CLK_TCK = os.sysconf("SC_CLK_TCK")

Side = Literal["BUY", "SELL"]
OrderType = Literal["LIMIT", "MARKET"]
TimeInForce = Literal["GTC", "IOC", "FOK"]


class NotFoundError(Exception):
    """An unknown symbol on a read route (404)."""


def make_units() -> Any:
    from trade_engine.gateway.units import Units

    units = Units()
    units.decimals["BTC"] = 8
    units.decimals["USDT"] = 8
    units.add_spec(
        {"symbol": SYMBOL, "tick": "0.01", "lot": "0.0001", "base": "BTC", "quote": "USDT"}
    )
    return units


def fixed_book(units: Any) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """20 bid and 20 ask levels around 50,000, as the decimal strings a client sees."""
    bids = [
        (units.price(SYMBOL, 5_000_000 - 10 * i), units.qty(SYMBOL, 1_000 + 37 * i))
        for i in range(20)
    ]
    asks = [
        (units.price(SYMBOL, 5_000_010 + 10 * i), units.qty(SYMBOL, 1_200 + 41 * i))
        for i in range(20)
    ]
    return bids, asks


def unit_error_body(e: Any) -> dict[str, str]:
    return {"code": e.reason.name, "message": e.message, "field": e.field}


# ---------------------------------------------------------------------------------- the apps


def fastapi_app() -> Any:
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse
    from pydantic import BaseModel, ConfigDict

    from trade_engine.gateway.units import UnitError

    units = make_units()
    bids, asks = fixed_book(units)
    ids = itertools.count(1)

    class OrderIn(BaseModel):
        model_config = ConfigDict(extra="forbid", strict=True)
        symbol: str
        side: Side
        type: OrderType
        timeInForce: TimeInForce
        quantity: str
        price: str
        clientOrderId: str

    class OrderView(BaseModel):
        orderId: int
        clientOrderId: str
        symbol: str
        side: Side
        type: OrderType
        timeInForce: TimeInForce
        price: str
        quantity: str
        priceTicks: int
        quantityLots: int
        executedQuantity: str
        status: str

    class DepthView(BaseModel):
        symbol: str
        lastUpdateId: int
        bids: list[tuple[str, str]]
        asks: list[tuple[str, str]]

    async def place(body: OrderIn) -> OrderView:
        ticks = units.parse_price(body.symbol, body.price)
        lots = units.parse_qty(body.symbol, body.quantity)
        return OrderView(
            orderId=next(ids),
            clientOrderId=body.clientOrderId,
            symbol=body.symbol,
            side=body.side,
            type=body.type,
            timeInForce=body.timeInForce,
            price=units.price(body.symbol, ticks),
            quantity=units.qty(body.symbol, lots),
            priceTicks=ticks,
            quantityLots=lots,
            executedQuantity="0",
            status="NEW",
        )

    async def depth(symbol: str) -> DepthView:
        if symbol != SYMBOL:
            raise NotFoundError(symbol)
        return DepthView(symbol=symbol, lastUpdateId=12345, bids=bids, asks=asks)

    async def on_unit_error(_: Request, e: Exception) -> JSONResponse:
        return JSONResponse(unit_error_body(e), status_code=400)

    async def on_not_found(_: Request, e: Exception) -> JSONResponse:
        return JSONResponse({"code": "UNKNOWN_SYMBOL", "message": str(e)}, status_code=404)

    app = FastAPI(title="order entry bench", version="0")  # Swagger UI at /docs by default
    app.add_api_route("/api/v1/orders", place, methods=["POST"])
    app.add_api_route("/api/v1/depth", depth, methods=["GET"])
    app.add_exception_handler(UnitError, on_unit_error)
    app.add_exception_handler(NotFoundError, on_not_found)
    return app


def litestar_app() -> Any:
    import msgspec
    from litestar import Litestar, Request, Response, get, post
    from litestar.openapi import OpenAPIConfig
    from litestar.openapi.plugins import SwaggerRenderPlugin

    from trade_engine.gateway.units import UnitError

    units = make_units()
    bids, asks = fixed_book(units)
    ids = itertools.count(1)

    class OrderIn(msgspec.Struct, forbid_unknown_fields=True):
        symbol: str
        side: Side
        type: OrderType
        timeInForce: TimeInForce
        quantity: str
        price: str
        clientOrderId: str

    class OrderView(msgspec.Struct):
        orderId: int
        clientOrderId: str
        symbol: str
        side: Side
        type: OrderType
        timeInForce: TimeInForce
        price: str
        quantity: str
        priceTicks: int
        quantityLots: int
        executedQuantity: str
        status: str

    class DepthView(msgspec.Struct):
        symbol: str
        lastUpdateId: int
        bids: list[tuple[str, str]]
        asks: list[tuple[str, str]]

    @post("/api/v1/orders", status_code=200)
    async def place(data: OrderIn) -> OrderView:
        ticks = units.parse_price(data.symbol, data.price)
        lots = units.parse_qty(data.symbol, data.quantity)
        return OrderView(
            orderId=next(ids),
            clientOrderId=data.clientOrderId,
            symbol=data.symbol,
            side=data.side,
            type=data.type,
            timeInForce=data.timeInForce,
            price=units.price(data.symbol, ticks),
            quantity=units.qty(data.symbol, lots),
            priceTicks=ticks,
            quantityLots=lots,
            executedQuantity="0",
            status="NEW",
        )

    @get("/api/v1/depth")
    async def depth(symbol: str) -> DepthView:
        if symbol != SYMBOL:
            raise NotFoundError(symbol)
        return DepthView(symbol=symbol, lastUpdateId=12345, bids=bids, asks=asks)

    def on_unit_error(_: Request[Any, Any, Any], e: Exception) -> Response[Any]:
        return Response(unit_error_body(e), status_code=400)

    def on_not_found(_: Request[Any, Any, Any], e: Exception) -> Response[Any]:
        return Response({"code": "UNKNOWN_SYMBOL", "message": str(e)}, status_code=404)

    return Litestar(
        route_handlers=[place, depth],
        exception_handlers={UnitError: on_unit_error, NotFoundError: on_not_found},
        openapi_config=OpenAPIConfig(
            title="order entry bench",
            version="0",
            path="/docs",  # Swagger UI at /docs, as the issue asks (default is /schema)
            render_plugins=[SwaggerRenderPlugin()],
        ),
    )


def loop_name() -> str:
    return "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"


def serve(framework: str, port: int) -> None:
    import uvicorn

    app = fastapi_app() if framework == "fastapi" else litestar_app()
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        loop=loop_name(),
        http="httptools",
        workers=1,
        log_level="warning",
        access_log=False,
    )


# ---------------------------------------------------------------------------------- driving


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http(
    method: str, url: str, body: bytes | None = None, timeout: float = 5.0
) -> tuple[int, bytes]:
    req = urllib.request.Request(url, data=body, method=method)
    if body is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


class Server:
    def __init__(self, framework: str) -> None:
        self.framework = framework
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--serve", framework, "--port", str(self.port)]
        )
        deadline = t0 + 30
        while True:
            with contextlib.suppress(OSError):
                if http("GET", f"{self.base}/api/v1/depth?symbol={SYMBOL}", timeout=1)[0] == 200:
                    break
            if self.proc.poll() is not None or time.perf_counter() > deadline:
                self.stop()
                raise SystemExit(f"{framework} server did not start")
            time.sleep(0.01)
        self.startup_s = time.perf_counter() - t0

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def checks(srv: Server) -> list[str]:
    """What the server must refuse and serve; each line names the answer's status."""
    url = f"{srv.base}/api/v1/orders"
    out = []

    def post(desc: str, body: bytes, want: str) -> None:
        status, data = http("POST", url, body)
        ok = str(status).startswith(want[0]) if want in ("2xx", "4xx") else str(status) == want
        out.append(
            f"{'ok ' if ok else 'BAD'} {desc}: {status} {data[:90].decode(errors='replace')}"
        )

    post("valid order", json.dumps(ORDER).encode(), "200")
    post("unknown field", json.dumps({**ORDER, "leverage": "10"}).encode(), "4xx")
    post("quantity as a number", json.dumps({**ORDER, "quantity": 0.015}).encode(), "4xx")
    post("price off the tick", json.dumps({**ORDER, "price": "50000.001"}).encode(), "400")
    post("side HOLD", json.dumps({**ORDER, "side": "HOLD"}).encode(), "4xx")
    post("clientOrderId null", json.dumps({**ORDER, "clientOrderId": None}).encode(), "4xx")
    post("bad JSON", b'{"symbol": "BTC-USDT",', "4xx")
    status, data = http("GET", f"{srv.base}/api/v1/depth?symbol={SYMBOL}")
    book = json.loads(data)
    out.append(
        f"{'ok ' if len(book['bids']) == len(book['asks']) == 20 else 'BAD'} depth: {status}, "
        f"{len(data)} bytes, best bid {book['bids'][0]} ask {book['asks'][0]}"
    )
    status, _ = http("GET", f"{srv.base}/api/v1/depth?symbol=NOPE-USDT")
    out.append(f"{'ok ' if status == 404 else 'BAD'} depth of an unknown symbol: {status}")
    ui, _ = http("GET", f"{srv.base}/docs")
    doc_path = "/openapi.json" if srv.framework == "fastapi" else "/docs/openapi.json"
    status, data = http("GET", f"{srv.base}{doc_path}")
    version = json.loads(data).get("openapi") if status == 200 else None
    out.append(
        f"{'ok ' if ui == 200 and version else 'BAD'} Swagger UI /docs: {ui}; "
        f"OpenAPI {version} at {doc_path}"
    )
    return out


_WRK_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if not m:
        raise ValueError(text)
    return float(m.group(1)) * _WRK_UNITS[m.group(2)]


def run_wrk(srv: Server, endpoint: str, seconds: float, conns: int, lua: Path) -> dict[str, Any]:
    if endpoint == "orders":
        target = [f"{srv.base}/api/v1/orders", "-s", str(lua)]
    else:
        target = [f"{srv.base}/api/v1/depth?symbol={SYMBOL}"]
    cmd = ["wrk", "-t1", f"-c{conns}", f"-d{max(1, round(seconds))}s", "--latency", *target]
    cpu0 = cpu_seconds(srv.proc.pid)
    text = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    cpu = cpu_seconds(srv.proc.pid) - cpu0
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", text).group(1))  # type: ignore[union-attr]
    lat = dict(re.findall(r"^\s+(50|99)(?:\.000)?%\s+(\S+)", text, re.M))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    errs = re.search(r"Socket errors: (.*)", text)
    return {
        "rps": rps,
        "p50_ms": _ms(lat["50"]),
        "p99_ms": _ms(lat["99"]),
        "non2xx": int(bad.group(1)) if bad else 0,
        "socket_errors": errs.group(1) if errs else "",
        "cpu_us_per_req": cpu / max(total, 1) * 1e6,
    }


def run_autocannon(
    srv: Server, endpoint: str, seconds: float, conns: int, rate: int
) -> dict[str, Any]:
    cmd = ["autocannon", "-n", "-j", "-c", str(conns), "-d", str(max(1, round(seconds)))]
    cmd += ["--overallRate", str(rate)]
    if endpoint == "orders":
        cmd += ["-m", "POST", "-H", "content-type=application/json", "-b", json.dumps(ORDER)]
        cmd.append(f"{srv.base}/api/v1/orders")
    else:
        cmd.append(f"{srv.base}/api/v1/depth?symbol={SYMBOL}")
    cpu0 = cpu_seconds(srv.proc.pid)
    res = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)
    cpu = cpu_seconds(srv.proc.pid) - cpu0
    lat = res["latency"]
    total = res["requests"]["total"]
    return {
        "rps": total / seconds,
        "p50_ms": float(lat["p50"]),
        "p99_ms": float(lat["p99"]),
        "max_ms": float(lat["max"]),
        "non2xx": int(res["non2xx"]) + int(res["errors"]) + int(res["timeouts"]),
        "cpu_us_per_req": cpu / max(total, 1) * 1e6,
    }


def fmt(r: dict[str, Any]) -> str:
    bad = f"  NON-2XX/ERRORS {r['non2xx']}" if r["non2xx"] else ""
    return (
        f"{r['rps']:9,.0f} req/s  p50 {r['p50_ms']:7.2f} ms  p99 {r['p99_ms']:7.2f} ms  "
        f"server CPU {r['cpu_us_per_req']:6.0f} us/req{bad}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--serve", choices=FRAMEWORKS, help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--seconds", type=float, default=10.0, help="per measurement (10)")
    ap.add_argument("--warmup", type=float, default=2.0, help="per endpoint, unrecorded (2)")
    ap.add_argument("--connections", type=int, default=64, help="(64)")
    ap.add_argument("--rate", type=int, default=1000, help="fixed rate for p99, req/s (1000)")
    ap.add_argument(
        "--rate-connections", type=int, default=8, help="connections at the fixed rate (8)"
    )
    ap.add_argument("--passes", type=int, default=3, help="per framework, alternated (3)")
    args = ap.parse_args()
    if args.serve:
        serve(args.serve, args.port)
        return

    versions = {
        p: importlib.metadata.version(p)
        for p in ("fastapi", "pydantic", "litestar", "msgspec", "uvicorn", "httptools")
    }
    if loop_name() == "uvloop":
        versions["uvloop"] = importlib.metadata.version("uvloop")
    wrk_v = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split("\n")[0]
    ac_v = subprocess.run(["autocannon", "--version"], capture_output=True, text=True).stdout
    print(f"python {sys.version.split()[0]}, loop {loop_name()}, {os.cpu_count()} CPUs")
    print("versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    print(f"load: {wrk_v.strip()} (-t1); {ac_v.split(chr(10))[0].strip()}")
    print(
        f"each pass: a fresh server; wrk {args.connections} connections {args.seconds:g} s per "
        f"endpoint, then autocannon {args.rate:,} req/s over {args.rate_connections} connections "
        f"{args.seconds:g} s per endpoint ({args.warmup:g} s unrecorded warm-up first)"
    )
    results: dict[str, dict[str, list[dict[str, Any]]]] = {
        fw: {k: [] for k in ("orders", "depth", "orders_rate", "depth_rate")} for fw in FRAMEWORKS
    }
    startups: dict[str, list[float]] = {fw: [] for fw in FRAMEWORKS}
    with tempfile.TemporaryDirectory() as tmp:
        lua = Path(tmp) / "post.lua"
        body = json.dumps(ORDER).replace("\\", "\\\\").replace("'", "\\'")
        lua.write_text(
            'wrk.method = "POST"\n'
            f"wrk.body = '{body}'\n"
            'wrk.headers["Content-Type"] = "application/json"\n'
        )
        for p in range(args.passes):
            order = FRAMEWORKS if p % 2 == 0 else FRAMEWORKS[::-1]
            for fw in order:
                srv = Server(fw)
                try:
                    startups[fw].append(srv.startup_s)
                    print(f"\npass {p + 1} {fw}: started in {srv.startup_s:.2f} s")
                    if p == 0:
                        for line in checks(srv):
                            print("  " + line)
                    for ep in ("orders", "depth"):
                        run_wrk(srv, ep, args.warmup, args.connections, lua)
                        r = run_wrk(srv, ep, args.seconds, args.connections, lua)
                        results[fw][ep].append(r)
                        print(f"  {ep:6} wrk c={args.connections:<4}         {fmt(r)}")
                    for ep in ("orders", "depth"):
                        r = run_autocannon(srv, ep, args.seconds, args.rate_connections, args.rate)
                        results[fw][ep + "_rate"].append(r)
                        print(f"  {ep:6} autocannon {args.rate:,}/s   {fmt(r)}")
                finally:
                    srv.stop()

    best: dict[str, dict[str, Any]] = {}
    for fw in FRAMEWORKS:
        b: dict[str, Any] = {"startup_s": min(startups[fw])}
        for ep in ("orders", "depth"):
            b[ep] = max(results[fw][ep], key=lambda r: r["rps"])
            b[ep + "_rate"] = min(results[fw][ep + "_rate"], key=lambda r: r["p99_ms"])
        best[fw] = b
    print(f"\nsummary, best of {args.passes} (sustained: highest rate; fixed rate: lowest p99)")
    for ep in ("orders", "depth"):
        for fw in FRAMEWORKS:
            print(f"  {ep:6} {fw:8} c={args.connections}:     {fmt(best[fw][ep])}")
        for fw in FRAMEWORKS:
            print(f"  {ep:6} {fw:8} {args.rate:,}/s:  {fmt(best[fw][ep + '_rate'])}")
        ratio = best["litestar"][ep]["rps"] / best["fastapi"][ep]["rps"]
        cpu = best["fastapi"][ep]["cpu_us_per_req"] / best["litestar"][ep]["cpu_us_per_req"]
        print(f"  {ep:6} litestar / fastapi: rate x{ratio:.2f}, CPU per request 1/{cpu:.2f}")
    for fw in FRAMEWORKS:
        print(f"  start-up {fw:8} {best[fw]['startup_s']:.2f} s (spawn to first answer)")
    print(
        json.dumps(
            {
                "bench": "http_framework",
                "loop": loop_name(),
                "versions": versions,
                "connections": args.connections,
                "seconds": args.seconds,
                "rate": args.rate,
                "rate_connections": args.rate_connections,
                "best": best,
                "passes": results,
                "startup_s": startups,
            },
            separators=(",", ":"),
        )
    )


if __name__ == "__main__":
    main()
