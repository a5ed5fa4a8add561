"""城市管理权责知识门户 — the City Duty Portal.

Answers, before a case is dispatched: who owns this thing here, who maintains it, who may enforce
against it, on what legal basis and within what time limit.
"""

from __future__ import annotations

from typing import Any

from portal.messages import use_chinese_messages

# before any schema is defined: marshmallow's fields copy their messages when they are created
use_chinese_messages()


def main(global_config: dict[str, Any], **settings: Any) -> Any:
    """The WSGI application (``paste.app_factory``)."""
    from portal.config import configure
    from portal.startup import after_start

    config = configure(settings)
    app = config.make_wsgi_app()
    after_start(config.registry)
    return app
