"""One module per dashboard page; see :mod:`headwater.dashboard.registry`."""
