#!/usr/bin/env python3
"""Traffic for ops/bench/hostile: legitimate POST /v1/route calls from several tenants at a steady
rate, with hostile traffic mixed in: malformed requests (NUL, invalid UTF-8, oversized fields),
one tenant flooding at 10x a tenant's share, and idle connections held open for the whole run.

Usage: hostile-traffic.py HOST PORT CALLS RATE OUT.json TENANT=KEY... --flood TENANT=KEY
Writes one JSON object per request to OUT.json lines: kind (legit | malformed | flood), tenant,
status (0 when the connection failed), ms, callId. Prints a one-line summary.
"""
import asyncio
import json
import sys
import time


async def exchange(reader, writer, head, body):
    writer.write(head + body)
    await writer.drain()
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("closed")
    status = int(status_line.split()[1])
    length = 0
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.decode("latin-1").partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    if length:
        await reader.readexactly(length)
    return status


def request_bytes(key, body):
    head = (f"POST /v1/route HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {key}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode()
    return head, body


class Pool:
    """Keep-alive connections, one request at a time each (as a dialer's HTTP client does)."""

    def __init__(self, host, port, size):
        self.host, self.port, self.size = host, port, size
        self.free = asyncio.Queue()

    async def start(self):
        for _ in range(self.size):
            self.free.put_nowait(await asyncio.open_connection(self.host, self.port))

    async def send(self, key, body):
        reader, writer = await self.free.get()
        head, payload = request_bytes(key, body)
        try:
            status = await asyncio.wait_for(exchange(reader, writer, head, payload), 10)
        except Exception:
            writer.close()
            try:
                reader, writer = await asyncio.open_connection(self.host, self.port)
            except Exception:
                await asyncio.sleep(0.1)
                reader, writer = await asyncio.open_connection(self.host, self.port)
            self.free.put_nowait((reader, writer))
            return 0
        self.free.put_nowait((reader, writer))
        return status


MALFORMED = [
    b'{"callId": "nul\\u0000inside", "caller": "+15550000001"}',
    b'{"callId": "bad-\xff\xfe-utf8", "caller": "+15550000001"}',
    b'{"callId": "' + b"x" * 5000 + b'", "caller": "+15550000001"}',
    b'{"callId": "ok", "caller": "+1555' + b"9" * 400 + b'"}',
    b'{"callId": "ok", "caller": "+15550000001", "called": "\\u0000"}',
    b'{"callId": 1e400, "caller": "+15550000001"}',
    b'{"callId": "lone-\\ud800-surrogate", "caller": "+15550000001"}',
    b'{"callId": "trunc',
]


async def main():
    host, port, calls, rate, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
    rest = sys.argv[6:]
    flood_at = rest.index("--flood")
    tenants = [arg.split("=", 1) for arg in rest[:flood_at]]
    flood_tenant, flood_key = rest[flood_at + 1].split("=", 1)
    idle = int(rest[rest.index("--idle") + 1]) if "--idle" in rest else 500

    records = []
    # Idle connections: opened first, never sending a byte.
    idlers = []
    for _ in range(idle):
        try:
            idlers.append(await asyncio.open_connection(host, port))
        except OSError:
            break
    legit_pool, flood_pool = Pool(host, port, 24), Pool(host, port, 48)
    await legit_pool.start()
    await flood_pool.start()

    async def one(kind, tenant, key, body, call_id, pool):
        started = time.perf_counter()
        if pool is None:  # malformed: a connection of its own, as a broken client would open
            try:
                reader, writer = await asyncio.open_connection(host, port)
                head, payload = request_bytes(key, body)
                status = await asyncio.wait_for(exchange(reader, writer, head, payload), 10)
                writer.close()
            except Exception:
                status = 0
        else:
            status = await pool.send(key, body)
        records.append({"kind": kind, "tenant": tenant, "status": status, "ms": (time.perf_counter() - started) * 1000, "callId": call_id})

    duration = calls / rate
    # Each legitimate tenant's share of the rate; the flood sends ten times that.
    flood_rate = 10 * rate / len(tenants)
    malformed_every = 19  # one malformed request per 19 legitimate ones: 5% of the route requests
    tasks = []
    t0 = time.perf_counter()

    async def legit():
        for i in range(calls):
            await asyncio.sleep(max(0, t0 + i / rate - time.perf_counter()))
            tenant, key = tenants[i % len(tenants)]
            call_id = f"legit-{i}"
            body = json.dumps({"callId": call_id, "caller": "+1555%07d" % (i % 1000)}).encode()
            tasks.append(asyncio.create_task(one("legit", tenant, key, body, call_id, legit_pool)))
            if i % malformed_every == malformed_every - 1:
                tasks.append(asyncio.create_task(one("malformed", tenant, key, MALFORMED[(i // malformed_every) % len(MALFORMED)], None, None)))

    async def flood():
        n = int(duration * flood_rate)
        for i in range(n):
            await asyncio.sleep(max(0, t0 + i / flood_rate - time.perf_counter()))
            body = json.dumps({"callId": f"flood-{i}", "caller": "+1555%07d" % (i % 1000)}).encode()
            tasks.append(asyncio.create_task(one("flood", flood_tenant, flood_key, body, f"flood-{i}", flood_pool)))

    await asyncio.gather(legit(), flood())
    await asyncio.gather(*tasks)
    still_open = sum(1 for reader, writer in idlers if not reader.at_eof())
    for _, writer in idlers:
        writer.close()
    with open(out, "w") as f:
        for r in records:
            f.write(json.dumps(r) + "\n")
    by = {}
    for r in records:
        key = (r["kind"], r["status"])
        by[key] = by.get(key, 0) + 1
    print("requests by kind and status: " + ", ".join(f"{k}/{s}: {n}" for (k, s), n in sorted(by.items()))
          + f"; idle connections opened {len(idlers)}, still open at the end {still_open}")


asyncio.run(main())
