"""``headwater reconcile`` output: a rich table per pipeline, or JSON."""

from __future__ import annotations

import json

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from headwater.reconcile import TableReport

STYLE = {"equal": "green", "different": "red", "empty_source": "red", "error": "red", "skipped": "yellow"}


def print_reports(console: Console, pipeline: str, reports: list[TableReport], as_json: bool) -> None:
    if as_json:
        console.print_json(json.dumps([r.as_dict() for r in reports], default=str))
        return
    out = Table(title=f"{pipeline}: source vs warehouse", title_justify="left")
    for col in ("table", "status", "source rows", "warehouse rows", "missing", "extra", "different", "s"):
        out.add_column(col, justify="left" if col in ("table", "status") else "right", no_wrap=True)
    for r in reports:
        c = r.comparison
        style = STYLE.get(r.status, "white")
        out.add_row(
            r.table,
            f"[{style}]{r.status}[/]",
            f"{c.source_rows:,}",
            f"{c.warehouse_rows:,}",
            f"{c.missing:,}",
            f"{c.extra:,}",
            f"{c.different:,}",
            f"{c.seconds:.2f}",
        )
    console.print(out)
    for r in reports:
        c = r.comparison
        if r.message:
            console.print(f"[bold]{r.table}[/]: {escape(r.message)}", soft_wrap=True)
        for what, label in (("missing", "missing in the warehouse"), ("extra", "only in the warehouse")):
            if c.examples.get(what):
                keys = "; ".join(escape(k) for k in c.examples[what])
                console.print(f"[bold]{r.table}[/] {label}, e.g. keys: {keys}", soft_wrap=True)
        for e in c.examples.get("different", []):
            cols = ", ".join(
                f"{escape(col)}: {escape(str(e['source'][col]))} (source) vs "
                f"{escape(str(e['warehouse'][col]))} (warehouse)"
                for col in e["columns"]
            )
            console.print(f"[bold]{r.table}[/] key {escape(e['key'])} differs in {cols}", soft_wrap=True)
