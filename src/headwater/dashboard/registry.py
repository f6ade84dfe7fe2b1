"""The dashboard's pages, in navigation order.

A page is one module in ``headwater/dashboard/views/`` with a ``render()`` function and the
two-line footer ``if __name__ == "__main__": render()`` (Streamlit runs a page file as
``__main__``). Adding a pipeline's page = write ``views/<pipeline>.py`` and add one line to
``PAGES`` below.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

PAGES_DIR = Path(__file__).resolve().parent / "views"
"""Not ``pages/``: Streamlit would take a folder of that name for an old-style multipage app
and serve its files, without this navigation, to a browser whose first request is a page URL."""


@dataclass(frozen=True)
class DashboardPage:
    module: str
    """File name in views/ without .py; also the page's URL path."""
    title: str
    icon: str
    section: str
    """Navigation group: "Platform" or "Pipelines"."""
    pipeline: str | None = None
    """The pipeline whose marts the page reads (None for platform pages)."""
    default: bool = False

    @property
    def path(self) -> Path:
        return PAGES_DIR / f"{self.module}.py"

    @property
    def url_path(self) -> str:
        return "" if self.default else self.module


PAGES: tuple[DashboardPage, ...] = (
    DashboardPage("overview", "Overview", ":material/monitor_heart:", "Platform", default=True),
    DashboardPage("dbt_docs", "dbt docs", ":material/menu_book:", "Platform"),
    DashboardPage("travel_bookings", "Travel bookings", ":material/luggage:", "Pipelines", "travel_bookings"),
    DashboardPage("flights", "Flights", ":material/flight_takeoff:", "Pipelines", "flights"),
)


def page(module: str) -> DashboardPage:
    for p in PAGES:
        if p.module == module:
            return p
    raise KeyError(f"no dashboard page {module!r}; pages: {[p.module for p in PAGES]}")


def sections() -> dict[str, list[DashboardPage]]:
    out: dict[str, list[DashboardPage]] = {}
    for p in PAGES:
        out.setdefault(p.section, []).append(p)
    return out
