"""Analytics dashboards on Streamlit, reading the warehouse read-only.

Layout: ``db`` opens the warehouse read-only (and says clearly when it is missing or busy),
``queries`` holds the SQL behind every chart as plain functions, ``views/`` holds one module
per page and ``registry`` lists them; ``app`` is the Streamlit entry point and ``server``
builds the ``streamlit run`` command that ``headwater dashboard`` starts.
"""
