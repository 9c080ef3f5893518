# A lease's service for tests/e2e/test_gateway_edge.sh (stdlib only, one
# thread: asyncio): HTTP/1.1 keep-alive with Content-Length bodies.
#   /echo...      200, JSON: the target's length, the forwarding fields
#   /die          counted by method; on a kept connection (not its first
#                 request) the connection is closed unanswered (the
#                 service acted, then died); on a new one answered
#   /count        200, JSON: how many /die requests came, by method
#   /slow?ms=N    answered after N ms
# Usage: python3 -c "$(cat gw_edge_up.py)" PORT
import asyncio, json, sys

counts = {}


def answer(body, ctype="application/json"):
    b = body.encode()
    return (b"HTTP/1.1 200 OK\r\nContent-Type: " + ctype.encode() +
            b"\r\nContent-Length: " + str(len(b)).encode() + b"\r\n\r\n" + b)


async def serve(reader, writer):
    nreq = 0
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            fields = {}
            for l in lines[1:]:
                if ":" in l:
                    k, v = l.split(":", 1)
                    fields.setdefault(k.strip().lower(), []).append(v.strip())
            n = int(fields.get("content-length", ["0"])[0])
            if n:
                await reader.readexactly(n)
            nreq += 1
            path = target.split("?", 1)[0]
            if path == "/die":
                counts[method] = counts.get(method, 0) + 1
                if nreq > 1:
                    break
                out = answer("survived", "text/plain")
            elif path == "/count":
                out = answer(json.dumps(counts))
            elif path == "/slow":
                ms = int(target.split("ms=", 1)[1]) if "ms=" in target else 1000
                await asyncio.sleep(ms / 1000)
                out = answer("slow", "text/plain")
            elif path.startswith("/echo"):
                out = answer(json.dumps({
                    "target_len": len(target),
                    "target_tail": target[-8:],
                    "fields": {k: v for k, v in fields.items() if k in (
                        "x-forwarded-for", "x-real-ip", "forwarded",
                        "x-forwarded-proto", "x-forwarded-host",
                        "x-app")}}))
            else:
                out = answer("not found", "text/plain")
            writer.write(out)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, ValueError):
        pass
    writer.close()


async def main(port):
    srv = await asyncio.start_server(serve, "127.0.0.1", port, backlog=1024)
    async with srv:
        await srv.serve_forever()


asyncio.run(main(int(sys.argv[1])))
