{#
    A staging model from its declaration: one column per column of the model's yml entry that
    has a `data_type`, cast from the source column of the same name (or from
    `meta: {source_column: ...}` when the staging name differs), followed by the load metadata
    every Headwater raw table carries (_loaded_at, _run_id as loaded_at, load_run_id). The
    model's SQL is then one call:

        {{ headwater_common.stage(source('travel', 'ticket')) }}

    so names, types and documentation live in one place, the yml. Source columns are quoted:
    an access log's `user` or `time` would otherwise read as SQL keywords (Postgres' `user` is
    the session's user name).

    Rows Headwater marked deleted in raw (`_deleted_at`, a table with `deletes: detect` whose
    key vanished from the source) are left out, so every model downstream follows the delete
    and snapshots with `hard_deletes: invalidate` close the key's current version.
#}
{% macro stage(source_relation) %}
    {%- set load_columns = ['loaded_at', 'load_run_id'] -%}
    {%- set declared = [] -%}
    {%- for column in model.columns.values() if column.name not in load_columns -%}
        {%- if execute and not column.data_type -%}
            {{ exceptions.raise_compiler_error(
                "staging column " ~ model.name ~ "." ~ column.name ~ " has no data_type in its yml") }}
        {%- endif -%}
        {%- do declared.append(column) -%}
    {%- endfor -%}
    {%- if execute and not declared -%}
        {{ exceptions.raise_compiler_error("staging model " ~ model.name ~ " declares no typed columns") }}
    {%- endif %}
    select
    {%- for column in declared %}
        cast({{ adapter.quote(column.meta.get('source_column', column.name)) }} as {{ column.data_type }}) as {{ column.name }},
    {%- endfor %}
        cast(_loaded_at as timestamp) as loaded_at,
        cast(_run_id as varchar) as load_run_id
    from {{ source_relation }}
    {%- if headwater_common.has_deleted_marks(source_relation) %}
    where _deleted_at is null
    {%- endif %}
{% endmacro %}

{#- Does the raw table carry delete marks? (The column appears on the first delete check.) -#}
{% macro has_deleted_marks(source_relation) %}
    {%- if not execute -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set relation = adapter.get_relation(source_relation.database, source_relation.schema, source_relation.identifier) -%}
    {%- if relation is none -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set names = adapter.get_columns_in_relation(relation) | map(attribute='name') | map('lower') | list -%}
    {{ return('_deleted_at' in names) }}
{% endmacro %}
