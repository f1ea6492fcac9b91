"""The process library: start a child process, tell it its settings, wait until it reports ready, stop its tree."""
