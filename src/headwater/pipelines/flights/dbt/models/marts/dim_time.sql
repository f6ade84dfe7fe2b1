-- One row per minute of the day; time_key is HHMM (0 = 00:00, 1435 = 14:35), the key the
-- facts use for local and UTC times of day. The dimension itself is headwater_common's.

{{ headwater_common.time_dimension() }}
