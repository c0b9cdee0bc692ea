"""The WhatsApp Web transport: Chromium driven through Playwright.

    web = from_env(os.environ)
    transport = WhatsAppWebTransport(web, account=settings.account, data_dir=settings.data_dir)

See docs/WHATSAPP_WEB.md, and transport.py for how it holds together.
"""

from parley.bridge.whatsapp_web.config import Timings, WebSettings, from_env
from parley.bridge.whatsapp_web.transport import WhatsAppWebTransport

__all__ = ["Timings", "WebSettings", "WhatsAppWebTransport", "from_env"]
