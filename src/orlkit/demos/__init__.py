"""Runnable demonstrations of the lecture's claims (``orlkit demo NAME``)."""
