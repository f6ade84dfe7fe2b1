-- Salespeople with their name, title and current territory. Left joins: a sales manager has
-- no territory (null), and a missing person or employee row must show as nulls, not drop the
-- salesperson.

with

sales_persons as (

    select * from {{ ref('stg_pacbikes__sales_persons') }}

),

persons as (

    select * from {{ ref('stg_pacbikes__persons') }}

),

employees as (

    select * from {{ ref('stg_pacbikes__employees') }}

),

territories as (

    select * from {{ ref('stg_pacbikes__sales_territories') }}

)

select
    sales_persons.businessentityid as sales_person_id,
    persons.firstname || ' ' || persons.lastname as sales_person_name,
    employees.jobtitle as job_title,
    sales_persons.territoryid as territory_id,
    territories.name as territory_name,
    sales_persons.salesquota as sales_quota,
    sales_persons.bonus,
    sales_persons.commissionpct as commission_pct
from sales_persons
left join persons on persons.businessentityid = sales_persons.businessentityid
left join employees on employees.businessentityid = sales_persons.businessentityid
left join territories on territories.territoryid = sales_persons.territoryid
