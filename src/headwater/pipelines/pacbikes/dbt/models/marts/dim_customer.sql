-- Customers: a store (reseller) or an individual. personid and storeid are each null for the
-- other kind, so both joins are left joins; the name is the store's or the person's.

with

customers as (

    select * from {{ ref('stg_pacbikes__customers') }}

),

persons as (

    select * from {{ ref('stg_pacbikes__persons') }}

),

stores as (

    select * from {{ ref('stg_pacbikes__stores') }}

)

select
    customers.customerid as customer_id,
    customers.accountnumber as account_number,
    case when customers.storeid is not null then 'store' else 'individual' end as customer_type,
    coalesce(stores.name, persons.firstname || ' ' || persons.lastname) as customer_name,
    customers.personid as person_id,
    customers.storeid as store_id,
    customers.territoryid as territory_id
from customers
left join persons on persons.businessentityid = customers.personid
left join stores on stores.businessentityid = customers.storeid
