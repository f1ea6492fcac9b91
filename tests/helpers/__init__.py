"""What the tests share besides fixtures (pytest advises importing from a module, never from conftest).

- `http`: every HTTP request a test makes to a running sandbox, a web process or a URL, through the
  lessons' own client, with the key added in one place; `open_page` for a browser tab.
- `processes`: polling (`eventually`), threads started, processes and ports, listening sockets, servers
  started on free ports (`free_port`, then `start_on_free_port` tries again if another process took it: both the library's;
  `started_on_a_free_port` for a server in the test's own process), a port held to refuse (`refusing_port`).
- `machine`: a part the machine lacks skips its tests with one reason, or fails them when
  `SANDBOX_REQUIRE_ALL=1` (as `.ci/run` sets) says nothing may skip.
- `banks`: quiz banks built in a test, and the errors a broken one gets.
"""

from sandbox_app.addresses import KEY_HEADER
from sandbox_app.examples import DEFAULT_EMAIL as EMAIL
from sandbox_app.processes.ports import free_port, start_on_free_port

from .banks import broken_copy, option, question, refused_with
from .http import (
    HTTP_TIMEOUT,
    Reply,
    auth_headers,
    get_json,
    http_call,
    http_get,
    http_post,
    key_headers,
    open_page,
    timed,
    url_of,
)
from .machine import CHROMIUM_NAMES, REQUIRE_ALL, find_chromium, missing, need_program, required
from .processes import (
    Finished,
    eventually,
    listening_addresses,
    listening_ports,
    named,
    process_exists,
    refusing_port,
    run_program,
    started_on_a_free_port,
    started_since,
    wait_gone,
)

__all__ = [
    "CHROMIUM_NAMES", "EMAIL", "Finished", "HTTP_TIMEOUT", "KEY_HEADER", "REQUIRE_ALL", "Reply", "auth_headers", "broken_copy",
    "eventually", "find_chromium", "free_port", "get_json", "http_call", "http_get", "http_post", "key_headers",
    "listening_addresses", "listening_ports", "missing", "named", "need_program", "open_page", "option",
    "process_exists", "question", "refused_with", "refusing_port", "required", "run_program", "start_on_free_port",
    "started_on_a_free_port", "started_since", "timed", "url_of", "wait_gone",
]  # fmt: skip
