"""The graph as a plain value: generated, shrunk. Imports nothing of the harness above it."""
