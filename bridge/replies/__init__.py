"""Writing replies: Gemini behind the `ReplyModel` port, with retries, a circuit
breaker and fallbacks, and the offline responder for machines without a key.

Start from `parley.bridge.replies.factory.build_reply_model`.
"""
