{{ config(unique_key='date_key') }}
-- Gold: the calendar over every transaction day (headwater_common's date dimension); each
-- run merges the whole spine, so a late transaction's day is always there.
{{ headwater_common.date_dimension(dates=[[ref('slv_forex__transactions'), 'transaction_date']]) }}
