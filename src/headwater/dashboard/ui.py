"""What every page shares: cached read-only queries, the warehouse's states, filters, empty states."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Literal

import altair as alt
import streamlit as st

from headwater.dashboard import marts, queries
from headwater.dashboard.db import Reader, WarehouseBusy, WarehouseMissing, WarehouseUnavailable
from headwater.settings import Settings

CACHE_SECONDS = 30
"""Query results are reused for this long: pages stay fast and the warehouse is opened rarely."""

STATUS_BADGE = {
    "success": ("Success", "green", ":material/check_circle:"),
    "warnings": ("Success with warnings", "orange", ":material/warning:"),
    "failed": ("Failed", "red", ":material/error:"),
    "running": ("Running", "blue", ":material/sync:"),
    "queued": ("Queued", "gray", ":material/schedule:"),
    "never": ("Not run yet", "gray", ":material/hourglass_empty:"),
}


def settings() -> Settings:
    return Settings.from_env()


def _query(pipeline: str | None, name: str) -> Any:
    """A query by name: the pipeline's own (its folder's dashboard.py) first, then the core's."""
    if pipeline is not None:
        from headwater import discovery

        own = discovery.pipeline_module(discovery.load_spec(pipeline), "dashboard")
        if own is not None and callable(getattr(own, name, None)):
            return getattr(own, name)
    return getattr(queries, name)


@st.cache_data(ttl=CACHE_SECONDS, show_spinner=False)
def _fetch(url: str, pipeline: str | None, calls: tuple[tuple[str, tuple[Any, ...]], ...]) -> list[Any]:
    def run(con):
        return [_query(pipeline, name)(con, *args) for name, args in calls]

    return Reader(url).run(run)


def fetch(*calls: tuple[Any, ...], pipeline: str | None = None) -> list[Any]:
    """Run ``(query name, *args)`` calls in one short read-only session (names are looked up in
    ``pipeline``'s dashboard.py, then in :mod:`queries`); stop the page with a clear message
    when the warehouse is missing, busy or unreachable."""
    url = settings().warehouse_url
    try:
        return _fetch(url, pipeline, tuple((c[0], tuple(c[1:])) for c in calls))
    except WarehouseMissing as e:
        st.info(f"**Nothing to show yet.** {e}", icon=":material/hourglass_empty:")
        st.code("headwater demo", language="bash")
        st.stop()
    except WarehouseBusy as e:
        st.warning(f"**The warehouse is busy.** {e}", icon=":material/lock_clock:")
        if st.button("Try again", icon=":material/refresh:", key=f"retry-{len(calls)}"):
            st.rerun()
        st.stop()
    except WarehouseUnavailable as e:
        st.error(f"**The warehouse cannot be read.** {e}", icon=":material/error:")
        st.stop()
    raise AssertionError("unreachable")


def fetch_one(name: str, *args: Any) -> Any:
    return fetch((name, *args))[0]


def sidebar() -> None:
    s = settings()
    reader_desc = Reader(s.warehouse_url).describe
    with st.sidebar:
        st.caption(f"Warehouse ({s.warehouse_kind}, opened read-only): `{reader_desc}`")
        if st.button("Refresh data", icon=":material/refresh:", width="stretch"):
            st.cache_data.clear()
            st.rerun()
        st.caption(f"Figures are cached for {CACHE_SECONDS} s.")


def not_run_yet(pipeline: str, title: str, missing: list[tuple[str, str]]) -> None:
    """The empty state of a pipeline page whose marts do not exist yet."""
    st.info(
        f"**{title} has not run yet**: its marts are not in the warehouse. "
        "Generate its source and run its DAG, then refresh this page.",
        icon=":material/hourglass_empty:",
    )
    st.code(f"headwater generate {pipeline}\nheadwater run {pipeline}", language="bash")
    with st.expander("Tables this page reads"):
        st.markdown("\n".join(f"- `{s}.{t}` (missing)" for s, t in missing))


def date_range(
    label: str, lo: date, hi: date, key: str, default: tuple[date, date] | None = None
) -> tuple[date, date]:
    """An inclusive date range within [lo, hi]; ``default`` (or all of it) until the user picks."""
    value = st.date_input(
        label,
        value=default or (lo, hi),
        min_value=lo,
        max_value=hi,
        key=key,
        format="YYYY-MM-DD",
        width=320,
    )
    if isinstance(value, tuple | list):
        if len(value) == 2:
            return value[0], value[1]
        if len(value) == 1:  # the second click has not happened yet
            return value[0], value[0]
        return lo, hi
    return (value, value) if isinstance(value, date) else (lo, hi)


def status_badge(status: str) -> None:
    label, colour, icon = STATUS_BADGE.get(status, (status.title(), "gray", None))
    st.badge(label, color=colour, icon=icon)  # type: ignore[arg-type]


STYLE = """
<style>
[data-testid="stMetricValue"] { font-size: 1.65rem; }
[data-testid="stMainBlockContainer"] { padding-top: 2.5rem; }
</style>
"""


def style() -> None:
    """A few CSS touches: metric values that fit five to a row, less empty space on top."""
    st.html(STYLE)


def section(title: str, data: Any, when_empty: str) -> bool:
    """A chart's subheader; with no ``data``, a caption saying why instead (returns False)."""
    st.subheader(title, anchor=False)
    if data.empty:
        st.caption(when_empty)
        return False
    return True


def day_x(field: str) -> alt.X:
    """A date x axis labelled like "04 Mar", without a title (the page says what the days are)."""
    return alt.X(f"{field}:T", title=None, axis=alt.Axis(format="%d %b", labelAngle=0))


def day_tooltip(field: str) -> alt.Tooltip:
    return alt.Tooltip(f"{field}:T", title="day", format="%a %d %b %Y")


def top_legend(field: str, colours: dict[str, str]) -> alt.Color:
    """Fixed colours per category, legend above the chart."""
    return alt.Color(
        f"{field}:N",
        title=None,
        scale=alt.Scale(domain=list(colours), range=list(colours.values())),
        legend=alt.Legend(orient="top"),
    )


@dataclass(frozen=True)
class Kpi:
    """One metric tile: a figure, its explanation and a sparkline of its daily values."""

    label: str
    value: str
    chart: list[Any]
    help: str | None = None
    chart_type: Literal["line", "bar", "area"] = "line"


def kpi_row(kpis: list[Kpi]) -> None:
    """A row of bordered metric tiles, one column each."""
    for col, k in zip(st.columns(len(kpis)), kpis, strict=True):
        col.metric(k.label, k.value, help=k.help, chart_data=k.chart, chart_type=k.chart_type, border=True)


class PipelinePage:
    """What a pipeline's ``dashboard.py`` asks of the core, for the pipeline of its own folder:
    its marts' relations (from dbt's manifest) and cached, read-only fetches of its queries.

    ``PAGE = ui.PipelinePage(__file__)`` at the top of the page file is all the wiring a page needs.
    """

    def __init__(self, page_file: str, models: tuple[str, ...]) -> None:
        self.pipeline = Path(page_file).resolve().parent.name
        self.models = models
        """The marts the page reads; while any is missing the page shows its "not run yet" state."""

    def mart(self, model: str) -> str:
        return marts.relation(self.pipeline, model)

    def located(self) -> tuple[tuple[str, str], ...]:
        """(schema, relation) of each of the page's marts, from the manifest."""
        return tuple(marts.located(self.pipeline, self.models))

    def fetch(self, *calls: tuple[Any, ...]) -> list[Any]:
        return fetch(*calls, pipeline=self.pipeline)

    def fetch_one(self, name: str, *args: Any) -> Any:
        return self.fetch((name, *args))[0]

    def opened(self, title: str) -> bool:
        """The page's title and sidebar; False (after saying so) while any of its marts is
        missing, so ``render()`` starts with ``if not PAGE.opened(TITLE): return``."""
        st.title(title)
        sidebar()
        (missing,) = self.fetch(("missing_tables", self.located()))
        if missing:
            not_run_yet(self.pipeline, title, missing)
        return not missing
