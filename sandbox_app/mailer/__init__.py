"""Sending and accounting: Flask-Mail with a timeout (`mail`), the seam that counts and clocks sends, the counters."""

from .seam import mail

__all__ = ["mail"]
