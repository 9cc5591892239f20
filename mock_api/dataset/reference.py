"""Static reference data the renderers draw from: currencies, places, names, products, declines.

Only tables live here; which row an object gets is decided by its keyed Rng in its renderer.
"""

from __future__ import annotations

# currency, exponent, weight, (min, max) amount in minor units, rounding step, countries
CURRENCIES = (
    ("usd", 2, 46, (500, 50_000), 1, ("US",)),
    ("eur", 2, 20, (500, 40_000), 1, ("DE", "FR", "NL", "IE", "ES")),
    ("gbp", 2, 12, (500, 40_000), 1, ("GB",)),
    ("jpy", 0, 9, (500, 60_000), 10, ("JP",)),
    ("krw", 0, 6, (5_000, 600_000), 100, ("KR",)),
    # Stripe requires three-decimal amounts to end in 0.
    ("kwd", 3, 7, (1_500, 150_000), 10, ("KW",)),
)
CITIES = {
    "US": (
        ("San Francisco", "CA", "94107"),
        ("New York", "NY", "10001"),
        ("Austin", "TX", "78701"),
    ),
    "DE": (("Berlin", None, "10115"), ("Munich", None, "80331")),
    "FR": (("Paris", None, "75001"), ("Lyon", None, "69001")),
    "NL": (("Amsterdam", None, "1011"), ("Utrecht", None, "3511")),
    "IE": (("Dublin", None, "D02"),),
    "ES": (("Madrid", None, "28001"), ("Barcelona", None, "08001")),
    "GB": (("London", None, "EC1A 1BB"), ("Manchester", None, "M1 1AE")),
    "JP": (("Tokyo", "Tokyo", "100-0001"), ("Osaka", "Osaka", "530-0001")),
    "KR": (("Seoul", None, "04524"), ("Busan", None, "48058")),
    "KW": (("Kuwait City", None, "13001"), ("Hawalli", None, "32001")),
}
FIRST = (
    "Ada",
    "Grace",
    "Alan",
    "Linus",
    "Margaret",
    "Ken",
    "Barbara",
    "Edsger",
    "Hedy",
    "Yuki",
    "Min-jun",
    "Fatima",
    "Noor",
    "Lars",
    "Chloe",
    "Mateo",
    "Aiko",
    "Omar",
    "Sofia",
    "Liam",
)
LAST = (
    "Lovelace",
    "Hopper",
    "Turing",
    "Torvalds",
    "Hamilton",
    "Thompson",
    "Liskov",
    "Dijkstra",
    "Lamarr",
    "Tanaka",
    "Kim",
    "Al-Sabah",
    "Haddad",
    "Jensen",
    "Martin",
    "Garcia",
    "Sato",
    "Rahman",
    "Rossi",
    "Murphy",
)
STREETS = (
    "Market St",
    "High St",
    "Main St",
    "Hauptstrasse",
    "Rue de Rivoli",
    "Gangnam-daero",
    "Chuo-dori",
    "Gulf Rd",
    "Keizersgracht",
    "Gran Via",
)
PRODUCTS = (
    ("Pro plan (monthly)", 4_900),
    ("Team seats", 1_500),
    ("Usage overage", 750),
    ("Support add-on", 2_500),
    ("Annual licence", 29_900),
    ("Onboarding", 9_900),
)
# failure_code, failure_message, outcome type, network_status, reason, risk_level, seller_message
FAILURES = (
    (
        "card_declined",
        "Your card was declined.",
        "issuer_declined",
        "declined_by_network",
        "generic_decline",
        "normal",
        "The bank did not return any further details with this decline.",
    ),
    (
        "card_declined",
        "Your card has insufficient funds.",
        "issuer_declined",
        "declined_by_network",
        "insufficient_funds",
        "normal",
        "The bank returned the decline code `insufficient_funds`.",
    ),
    (
        "expired_card",
        "Your card has expired.",
        "issuer_declined",
        "declined_by_network",
        "expired_card",
        "normal",
        "The bank returned the decline code `expired_card`.",
    ),
    (
        "incorrect_cvc",
        "Your card's security code is incorrect.",
        "issuer_declined",
        "declined_by_network",
        "incorrect_cvc",
        "elevated",
        "The bank returned the decline code `incorrect_cvc`.",
    ),
    (
        "processing_error",
        "An error occurred while processing your card. Try again in a little bit.",
        "issuer_declined",
        "declined_by_network",
        "processing_error",
        "normal",
        "The bank returned the decline code `processing_error`.",
    ),
    (
        "card_declined",
        "Your card was declined.",
        "blocked",
        "not_sent_to_network",
        "highest_risk_level",
        "highest",
        "Stripe blocked this payment as too risky.",
    ),
)
BRANDS = (("visa", 55), ("mastercard", 30), ("amex", 10), ("discover", 5))
DISPUTE_REASONS = (
    ("fraudulent", 50),
    ("product_not_received", 20),
    ("duplicate", 10),
    ("subscription_canceled", 10),
    ("credit_not_processed", 10),
)
# A dispute's `evidence` object (Stripe's dispute_evidence schema): every field, null until
# evidence is submitted.
DISPUTE_EVIDENCE_FIELDS = (
    "access_activity_log",
    "billing_address",
    "cancellation_policy",
    "cancellation_policy_disclosure",
    "cancellation_rebuttal",
    "customer_communication",
    "customer_email_address",
    "customer_name",
    "customer_purchase_ip",
    "customer_signature",
    "duplicate_charge_documentation",
    "duplicate_charge_explanation",
    "duplicate_charge_id",
    "product_description",
    "receipt",
    "refund_policy",
    "refund_policy_disclosure",
    "refund_refusal_explanation",
    "service_date",
    "service_documentation",
    "shipping_address",
    "shipping_carrier",
    "shipping_date",
    "shipping_documentation",
    "shipping_tracking_number",
    "uncategorized_file",
    "uncategorized_text",
)
CURRENCY_EXPONENT = {row[0]: row[1] for row in CURRENCIES}
# Invoice line prices are in USD cents; this scales them to each currency's magnitude.
USD_SCALE = {"usd": 1.0, "eur": 0.92, "gbp": 0.79, "jpy": 1.5, "krw": 13.5, "kwd": 3.1}
