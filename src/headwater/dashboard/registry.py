"""The dashboard's pages, in navigation order.

A page is one file with a ``render()`` function and the two-line footer
``if __name__ == "__main__": render()`` (Streamlit runs a page file as ``__main__``). Platform
pages are modules in ``headwater/dashboard/views/``; a pipeline's page is its folder's
``dashboard.py`` (with ``TITLE`` and ``ICON``), discovered like the pipeline itself: adding a
pipeline's page touches no file here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

PAGES_DIR = Path(__file__).resolve().parent / "views"
"""Not ``pages/``: Streamlit would take a folder of that name for an old-style multipage app
and serve its files, without this navigation, to a browser whose first request is a page URL."""


@dataclass(frozen=True)
class DashboardPage:
    module: str
    """The page's URL path: a platform page's file name in views/, a pipeline's name."""
    title: str
    icon: str
    section: str
    """Navigation group: "Platform" or "Pipelines"."""
    pipeline: str | None = None
    """The pipeline whose marts the page reads (None for platform pages)."""
    default: bool = False
    file: Path | None = field(default=None, compare=False)
    """The page file (default: views/<module>.py)."""

    @property
    def path(self) -> Path:
        return self.file or PAGES_DIR / f"{self.module}.py"

    @property
    def url_path(self) -> str:
        return "" if self.default else self.module


PLATFORM_PAGES: tuple[DashboardPage, ...] = (
    DashboardPage("overview", "Overview", ":material/monitor_heart:", "Platform", default=True),
    DashboardPage("dbt_docs", "dbt docs", ":material/menu_book:", "Platform"),
)


def pipeline_pages() -> tuple[DashboardPage, ...]:
    """One page per discovered pipeline whose folder has a dashboard.py, by pipeline name."""
    from headwater import discovery

    pages = []
    for name in discovery.available_pipelines():
        spec = discovery.load_spec(name)
        module = discovery.pipeline_module(spec, "dashboard")
        if module is None:
            continue
        title = getattr(module, "TITLE", name.replace("_", " ").capitalize())
        icon = getattr(module, "ICON", ":material/insights:")
        pages.append(DashboardPage(name, title, icon, "Pipelines", name, file=Path(str(module.__file__))))
    return tuple(pages)


def pages() -> tuple[DashboardPage, ...]:
    return PLATFORM_PAGES + pipeline_pages()


def page(module: str) -> DashboardPage:
    for p in pages():
        if p.module == module:
            return p
    raise KeyError(f"no dashboard page {module!r}; pages: {[p.module for p in pages()]}")


def sections() -> dict[str, list[DashboardPage]]:
    out: dict[str, list[DashboardPage]] = {}
    for p in pages():
        out.setdefault(p.section, []).append(p)
    return out
