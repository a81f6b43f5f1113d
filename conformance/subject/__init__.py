"""The engine under test: adapters, probe, and the engine's own process (server, session).

The modules the engine's process loads never import judging, reference, reporting or run."""
