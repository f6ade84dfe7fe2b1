-- One row per calendar day from the first booking or journey day to the last (and at least
-- up to today). The calendar itself (spine, names, keys) is headwater_common's.

{{ headwater_common.date_dimension(
    dates=[
        [ref('stg_travel__bookings'), 'created_at'],
        [ref('stg_travel__segments'), 'departure_at'],
        [ref('stg_travel__segments'), 'arrival_at'],
    ],
) }}
