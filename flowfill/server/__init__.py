"""The render server: one process that keeps the engine loaded and fills frames for hosts.

``protocol`` frames the messages (``plugins/PROTOCOL.md`` is the contract), ``endpoint`` finds
where the server listens, ``server`` serves shots to many clients, ``client`` is the Python
side of the protocol (tests, benchmarks, scripts and the Nuke tools use it).
"""

from flowfill.server.client import Client, ServerError
from flowfill.server.endpoint import default_socket

__all__ = ["Client", "ServerError", "default_socket"]
