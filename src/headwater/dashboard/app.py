"""Streamlit entry point: page setup and navigation from the registry.

Run by ``headwater dashboard`` (see :mod:`headwater.dashboard.server`); the pages themselves
live in ``views/`` (platform) and in each pipeline folder's ``dashboard.py``, found by
:mod:`headwater.dashboard.registry`.
"""

from __future__ import annotations

import streamlit as st

from headwater.dashboard import ui
from headwater.dashboard.registry import sections

st.set_page_config(
    page_title="Headwater dashboards",
    page_icon=":material/water:",
    layout="wide",
    initial_sidebar_state="expanded",
)

navigation = st.navigation(
    {
        section: [
            st.Page(
                str(p.path),
                title=p.title,
                icon=p.icon,
                url_path=p.url_path or None,
                default=p.default,
            )
            for p in pages
        ]
        for section, pages in sections().items()
    }
)
st.logo(
    "data:image/svg+xml;utf8,"
    "<svg xmlns='http://www.w3.org/2000/svg' width='160' height='32'>"
    "<text x='0' y='23' font-family='sans-serif' font-size='20' font-weight='700' "
    "fill='%233b6fb6'>Headwater</text></svg>",
    size="large",
)
ui.style()
navigation.run()
