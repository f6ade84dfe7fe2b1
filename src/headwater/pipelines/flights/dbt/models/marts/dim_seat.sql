-- One row per seat of each aircraft type: row, letter, cabin and whether it is at a window
-- (the first or last letter of its row).

with

seats as (

    select * from {{ ref('stg_flights__seats') }}

),

fare_classes as (

    select fare_conditions, fare_rank, cabin_name from {{ ref('fare_conditions') }}

),

parsed as (

    select
        aircraft_code,
        seat_no,
        fare_conditions,
        cast(substr(seat_no, 1, length(seat_no) - 1) as integer) as seat_row,
        substr(seat_no, length(seat_no), 1) as seat_letter,
        created_at,
        updated_at
    from seats

),

seat_rows as (

    select
        aircraft_code,
        seat_row,
        min(seat_letter) as first_letter,
        max(seat_letter) as last_letter,
        count(*) as seats_in_row
    from parsed
    group by aircraft_code, seat_row

),

final as (

    select
        parsed.aircraft_code,
        parsed.seat_no,
        parsed.seat_row,
        parsed.seat_letter,
        parsed.fare_conditions,
        fare_classes.fare_rank,
        fare_classes.cabin_name,
        parsed.seat_letter in (seat_rows.first_letter, seat_rows.last_letter) as is_window_seat,
        cast(seat_rows.seats_in_row as integer) as seats_in_row,
        parsed.created_at,
        parsed.updated_at
    from parsed
    left join seat_rows
        on parsed.aircraft_code = seat_rows.aircraft_code
        and parsed.seat_row = seat_rows.seat_row
    left join fare_classes
        on parsed.fare_conditions = fare_classes.fare_conditions

)

select * from final
