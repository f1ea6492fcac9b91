"""Build tools for the course: lessons to notebooks, and the teaching schedule."""
