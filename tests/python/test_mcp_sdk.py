"""The official MCP Python SDK client talking through two DP replicas (ai-mcp-proxy,
passthrough-listener) to the SDK server in mcp_server.py; started by tests/e2e/mcp_sdk.rs.

MCP_GATEWAY_URLS: the `/mcp` URL of each replica, comma-separated. Requests alternate between
them, so one MCP session spans both replicas.
"""

import itertools
import os

import anyio
import httpx2
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

URLS = [u for u in os.environ.get("MCP_GATEWAY_URLS", "").split(",") if u]

pytestmark = pytest.mark.skipif(
    len(URLS) < 2, reason="MCP_GATEWAY_URLS is set by the Rust e2e test that starts the DPs"
)


class Alternating(httpx2.AsyncBaseTransport):
    """Sends each request to the next replica (same path), remembering which one served."""

    def __init__(self, urls):
        self.targets = itertools.cycle([httpx2.URL(u) for u in urls])
        self.inner = httpx2.AsyncHTTPTransport()
        self.used = []

    async def handle_async_request(self, request):
        target = next(self.targets)
        request.url = request.url.copy_with(host=target.host, port=target.port)
        request.headers["host"] = f"{target.host}:{target.port}"
        self.used.append((request.method, target.port))
        return await self.inner.handle_async_request(request)

    async def aclose(self):
        await self.inner.aclose()


async def session_through_both_replicas():
    transport = Alternating(URLS)
    async with httpx2.AsyncClient(transport=transport, timeout=30) as http:
        async with streamable_http_client(URLS[0], http_client=http) as streams:
            read, write = streams[0], streams[1]
            async with ClientSession(read, write) as session:
                await session.initialize()
                tools = await session.list_tools()
                names = sorted(t.name for t in tools.tools)
                added = await session.call_tool("add", {"a": 2, "b": 3})
                failed = await session.call_tool("fail_tool", {})
    return transport.used, names, added, failed


def test_one_session_across_two_replicas():
    used, names, added, failed = anyio.run(session_through_both_replicas)
    assert names == ["add", "fail_tool"]
    assert not added.is_error
    assert added.content[0].text == "5"
    assert failed.is_error
    ports = {port for method, port in used if method == "POST"}
    assert len(ports) == 2, used
