-- The perpetual-inventory capital stock is positive wherever it is defined.
select * from {{ ref('int_capital__stock') }} where capital_stock_10k_yuan <= 0
