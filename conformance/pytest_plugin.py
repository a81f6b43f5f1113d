"""The pytest plugin (entry point ``vetgrad``; ``-p vetgrad.conformance.pytest_plugin``), where pytest
and users name it. The hooks are :mod:`vetgrad.conformance.run.pytest_plugin`'s."""

from vetgrad.conformance.run.pytest_plugin import (
    pytest_addoption,
    pytest_make_collect_report,
    pytest_report_header,
    pytest_terminal_summary,
)

__all__ = ["pytest_addoption", "pytest_make_collect_report", "pytest_report_header", "pytest_terminal_summary"]
