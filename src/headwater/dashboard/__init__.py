"""Analytics dashboards on Streamlit, reading the warehouse read-only.

Layout: ``db`` opens the warehouse read-only (and says clearly when it is missing or busy),
``queries`` holds the platform's SQL as plain functions, ``marts`` finds a pipeline's marts in
its dbt manifest, ``views/`` holds the platform pages, each pipeline folder's ``dashboard.py``
its own page and queries, and ``registry`` lists them all; ``app`` is the Streamlit entry point and ``server``
builds the ``streamlit run`` command that ``headwater dashboard`` starts.
"""
