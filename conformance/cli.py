"""``vetgrad-conformance`` and ``python -m vetgrad.conformance``: the command line, where the console
script and users name it. The code is :mod:`vetgrad.conformance.run.cli`."""

from vetgrad.conformance.run.cli import (
    SCHEMA_VERSION,
    format_report,
    ladder_line,
    main,
    parser,
    report_json,
    run,
)

__all__ = ["SCHEMA_VERSION", "format_report", "ladder_line", "main", "parser", "report_json", "run"]
