"""An MCP server built with the official MCP Python SDK (PyPI `mcp`, v2), served over
Streamable HTTP at /mcp, for tests/e2e/mcp_sdk.rs. Prints `mcp server listening on ADDR`.

Usage: python3 mcp_server.py PORT
"""

import socket
import sys

import uvicorn
from mcp.server.mcpserver import MCPServer

server = MCPServer("e2e-tools")


@server.tool()
def add(a: int, b: int) -> int:
    """Adds two integers."""
    return a + b


@server.tool()
def fail_tool() -> str:
    """Always fails."""
    raise ValueError("this tool always fails")


def main() -> None:
    port = int(sys.argv[1])
    app = server.streamable_http_app()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    print(f"mcp server listening on 127.0.0.1:{port}", flush=True)
    uvicorn.Server(uvicorn.Config(app, log_level="warning")).run(sockets=[sock])


if __name__ == "__main__":
    main()
