"""A labelling server for tests: started on a free loopback port, answering from a daemon thread."""

from __future__ import annotations

import threading

from deepbehavior.labeling.server import make_server


def serve_in_thread(project, **kwargs):
    """``make_server(project, port=0, **kwargs)`` serving in the background; call ``.shutdown()`` after."""
    server = make_server(project, port=0, **kwargs)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
