"""The course as a static website: `python -m tools.site` (or `make site`) builds it from the committed notebooks."""
