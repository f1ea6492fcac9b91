"""Sending and accounting: Flask-Mail with a timeout, delivery counters, the SMTP clock, background work."""
