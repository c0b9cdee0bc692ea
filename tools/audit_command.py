"""`parley audit CHAT [--as-of TIME] [--json]`: a conversation's full event
history (its Conversation, its Threads and its Contact), oldest first."""

from __future__ import annotations

import argparse

from parley.tools.config import Settings

HELP = "a conversation's full event history"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.description = __doc__
    parser.add_argument("chat", metavar="CHAT", help="4915112345678@c.us or +49 151 12345678")
    parser.add_argument("--as-of", metavar="TIME", help="only what was recorded by then (ISO 8601)")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.add_argument("--account", help="the WhatsApp account (default: PARLEY_ACCOUNT)")


def run(args: argparse.Namespace, settings: Settings) -> int:
    import sys

    from parley.projections.audit import conversation_history, parse_chat, parse_time
    from parley.tools.parley_app import open_app

    chat_id = parse_chat(args.chat)
    as_of = parse_time(args.as_of) if args.as_of else None
    account = args.account or settings.account
    app = open_app(settings)
    try:
        entries = conversation_history(app, account, chat_id, as_of)
    finally:
        app.close()
    if not entries:
        print(
            f"parley: no events recorded for chat {chat_id} of account {account}", file=sys.stderr
        )
        return 1
    for entry in entries:
        print(entry.json_line() if args.json else entry.line())
    return 0
