"""The WhatsApp Cloud API transport: a signed webhook for what arrives, the Graph
API for what Parley sends, and the 24-hour customer-service window honoured."""

from parley.bridge.cloud_api.config import CloudApiConfig, from_env
from parley.bridge.cloud_api.transport import CloudApiTransport
from parley.bridge.cloud_api.webhook import create_webhook_app, start_webhook_site

__all__ = [
    "CloudApiConfig",
    "CloudApiTransport",
    "create_webhook_app",
    "from_env",
    "start_webhook_site",
]
