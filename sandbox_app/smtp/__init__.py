"""The debug mail server: real SMTP on loopback that captures mail, never relays, and can be slow or faulty."""
