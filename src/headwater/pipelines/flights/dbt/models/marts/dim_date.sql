-- One row per calendar day from the day before the first booking or flight to the day after
-- the last (local dates can lie a day either side of UTC ones), and at least up to today.
-- date_key is YYYYMMDD, the key the facts use. The calendar itself is headwater_common's.

{{ headwater_common.date_dimension(
    dates=[
        [ref('stg_flights__bookings'), 'booked_at'],
        [ref('stg_flights__flights'), 'scheduled_departure'],
        [ref('stg_flights__flights'), 'scheduled_arrival'],
        [ref('stg_flights__flights'), 'actual_arrival'],
    ],
    padding_days=1,
) }}
