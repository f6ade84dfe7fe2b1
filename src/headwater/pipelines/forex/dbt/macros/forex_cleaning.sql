{#
    Cleaning rules of the forex deliveries, shared by bronze (what can be read) and silver.
    Every rule returns NULL for what it cannot read, never a guess: the bronze quarantine
    model turns those NULLs into reasons.
#}

{# Text without stray whitespace (spaces, tabs) around it; empty becomes NULL. #}
{% macro clean_text(expr) -%}
    nullif(regexp_replace({{ expr }}, '^\s+|\s+$', '', 'g'), '')
{%- endmacro %}

{# Every word capitalised ("  new YORK " -> "New York"): how names and places are written. #}
{% macro proper_case(expr) %}
    {{ return(adapter.dispatch('proper_case')(expr)) }}
{% endmacro %}

{% macro default__proper_case(expr) -%}
    initcap(lower({{ expr }}))
{%- endmacro %}

{% macro duckdb__proper_case(expr) -%}
    array_to_string(list_transform(string_split(lower({{ expr }}), ' '),
        lambda w: upper(left(w, 1)) || substr(w, 2)), ' ')
{%- endmacro %}

{# An id delivered as "1042" or "1042.0" (a spreadsheet's float); anything else is NULL. #}
{# (Like the rules below, it takes text already through clean_text: small SQL, read once.) #}
{% macro integer_id(expr) -%}
    case when {{ headwater_common.regex_full_match(expr, '[0-9]+(\.0+)?') }}
         then cast(split_part({{ expr }}, '.', 1) as bigint) end
{%- endmacro %}


{#
    Amounts: a decimal number ("105.00") or British number words ("one hundred and five",
    "twenty-five", "two thousand and forty"), up to 999,999. Words are read with the
    dictionary below; text that is neither is NULL (quarantined by bronze), never a guess.
#}
{% macro number_word_list() -%}
    {{ return({
        'zero': 0, 'one': 1, 'two': 2, 'three': 3, 'four': 4, 'five': 5, 'six': 6, 'seven': 7,
        'eight': 8, 'nine': 9, 'ten': 10, 'eleven': 11, 'twelve': 12, 'thirteen': 13,
        'fourteen': 14, 'fifteen': 15, 'sixteen': 16, 'seventeen': 17, 'eighteen': 18,
        'nineteen': 19, 'twenty': 20, 'thirty': 30, 'forty': 40, 'fifty': 50, 'sixty': 60,
        'seventy': 70, 'eighty': 80, 'ninety': 90,
    }) }}
{%- endmacro %}

{# The value of one word below a hundred; '' (no word) is 0. #}
{% macro word_value(expr) -%}
    (case {{ expr }}
    {%- for word, value in forex.number_word_list().items() %} when '{{ word }}' then {{ value }}{% endfor %}
     else 0 end)
{%- endmacro %}

{# At most two words below a hundred ("forty two", "seventeen"). #}
{% macro words_below_100(expr) -%}
    ({{ forex.word_value("split_part(" ~ expr ~ ", ' ', 1)") }}
     + {{ forex.word_value("split_part(" ~ expr ~ ", ' ', 2)") }})
{%- endmacro %}

{% macro words_below_1000(expr) -%}
    (case when {{ expr }} like '%hundred%'
          then {{ forex.word_value("trim(split_part(" ~ expr ~ ", 'hundred', 1))") }} * 100
               + {{ forex.words_below_100("trim(split_part(" ~ expr ~ ", 'hundred', 2))") }}
          else {{ forex.words_below_100(expr) }} end)
{%- endmacro %}

{# Words normalised: lower case, hyphens and "and" gone, single spaces. #}
{% macro normal_words(expr) -%}
    regexp_replace(replace(replace(lower({{ expr }}), '-', ' '), ' and ', ' '), '\s+', ' ', 'g')
{%- endmacro %}

{# `words` below: text already through normal_words. #}
{% macro is_number_words(words) -%}
    {%- set word = '(' ~ (forex.number_word_list().keys() | list | join('|')) ~ '|hundred|thousand)' -%}
    {{ headwater_common.regex_full_match(words, word ~ '( ' ~ word ~ ')*') }}
{%- endmacro %}

{% macro words_to_number(words) -%}
    {%- set n = words -%}
    (case when {{ n }} like '%thousand%'
          then {{ forex.words_below_1000("trim(split_part(" ~ n ~ ", 'thousand', 1))") }} * 1000
               + {{ forex.words_below_1000("trim(split_part(" ~ n ~ ", 'thousand', 2))") }}
          else {{ forex.words_below_1000(n) }} end)
{%- endmacro %}

{# An amount from its cleaned text and that text through normal_words. #}
{% macro amount(text, words) -%}
    case
        when {{ headwater_common.regex_full_match(text, '[0-9]+(\.[0-9]+)?') }}
            then cast({{ text }} as numeric(12, 2))
        when {{ forex.is_number_words(words) }}
            then cast({{ forex.words_to_number(words) }} as numeric(12, 2))
    end
{%- endmacro %}


{#
    Dates come in three forms: ISO (2024-03-01), numeric with slashes (03/01/2024) and long
    (1 March 2024). The documented rule for slashes: the deliveries are DAY-FIRST (DD/MM/YYYY).
    A first part above 12 can only be a day; a second part above 12 can only be a day, so that
    date was written month-first and is read so. When both parts are 12 or less and differ,
    the date is ambiguous: it is read day-first by the rule AND flagged (date_is_ambiguous), so
    nobody mistakes the rule for certainty. Anything else (or an impossible day) is NULL.
#}
{% macro slash_part(expr, n) -%}
    cast(split_part({{ expr }}, '/', {{ n }}) as integer)
{%- endmacro %}

{% macro date_format_of(expr) -%}
    case
        when {{ headwater_common.regex_full_match(expr, '[0-9]{4}-[0-9]{2}-[0-9]{2}') }} then 'iso'
        when {{ headwater_common.regex_full_match(expr, '[0-9]{1,2}/[0-9]{1,2}/[0-9]{4}') }} then
            case when {{ forex.slash_part(expr, 1) }} > 12 then 'day_first'
                 when {{ forex.slash_part(expr, 2) }} > 12 then 'month_first'
                 when {{ forex.slash_part(expr, 1) }} = {{ forex.slash_part(expr, 2) }} then 'day_first'
                 else 'ambiguous_read_day_first' end
        when {{ headwater_common.regex_full_match("lower(" ~ expr ~ ")",
                '[0-9]{1,2} (january|february|march|april|may|june|july|august|september|october|november|december) [0-9]{4}') }}
            then 'long'
    end
{%- endmacro %}

{% macro month_number(name) -%}
    (case {{ name }}
    {%- for m in ['january', 'february', 'march', 'april', 'may', 'june', 'july', 'august', 'september', 'october', 'november', 'december'] %} when '{{ m }}' then {{ loop.index }}{% endfor %} end)
{%- endmacro %}

{# A date from year, month and day only when that day exists (31/02 is NULL, not an error). #}
{% macro safe_date(y, m, d) -%}
    case when {{ m }} between 1 and 12 and {{ d }} between 1 and 31
          and {{ d }} <= extract(day from (make_date({{ y }}, {{ m }}, 1) + interval '1 month' - interval '1 day'))
         then make_date({{ y }}, {{ m }}, {{ d }}) end
{%- endmacro %}

{% macro parse_date(expr, format) -%}
    case {{ format }}
        when 'iso' then {{ forex.safe_date(
            "cast(split_part(" ~ expr ~ ", '-', 1) as integer)",
            "cast(split_part(" ~ expr ~ ", '-', 2) as integer)",
            "cast(split_part(" ~ expr ~ ", '-', 3) as integer)") }}
        when 'month_first' then {{ forex.safe_date(forex.slash_part(expr, 3), forex.slash_part(expr, 1), forex.slash_part(expr, 2)) }}
        when 'long' then {{ forex.safe_date(
            "cast(split_part(" ~ expr ~ ", ' ', 3) as integer)",
            forex.month_number("lower(split_part(" ~ expr ~ ", ' ', 2))"),
            "cast(split_part(" ~ expr ~ ", ' ', 1) as integer)") }}
        when 'day_first' then {{ forex.safe_date(forex.slash_part(expr, 3), forex.slash_part(expr, 2), forex.slash_part(expr, 1)) }}
        when 'ambiguous_read_day_first' then {{ forex.safe_date(forex.slash_part(expr, 3), forex.slash_part(expr, 2), forex.slash_part(expr, 1)) }}
    end
{%- endmacro %}
