"""``python -m vetgrad.engine.ops``: the op table as Markdown (docs/engine.md shows it)."""

from vetgrad.engine.ops import markdown_table

print(markdown_table())
