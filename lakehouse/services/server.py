"""``lakehouse serve``: the data services on uvicorn."""

from __future__ import annotations


def run(project, host: str = "127.0.0.1", port: int = 8080) -> None:
    """Serve ``project``'s published services until interrupted."""
    import uvicorn

    from lakehouse.services.app import create_app

    uvicorn.run(create_app(project), host=host, port=port, log_level="warning", access_log=False)
