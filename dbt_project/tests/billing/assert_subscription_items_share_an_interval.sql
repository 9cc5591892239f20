{#- Stripe bills a subscription's items together, so every price on it shares one
    interval and interval_count ("Currency and interval fields must match across all plans
    on this subscription"); fct_mrr_movements sums the items' MRR over that one
    denominator. Fails with each subscription version whose MRR items disagree. #}

select
    subscription_id,
    version_number,
    min(mrr_factor_numerator) as min_factor_numerator,
    max(mrr_factor_numerator) as max_factor_numerator,
    min(mrr_factor_denominator) as min_factor_denominator,
    max(mrr_factor_denominator) as max_factor_denominator
from {{ ref('dim_subscription_history') }}
where is_mrr_eligible
group by 1, 2
having min(mrr_factor_numerator) <> max(mrr_factor_numerator)
    or min(mrr_factor_denominator) <> max(mrr_factor_denominator)
