"""Credit card transactions of the demo bank: purchases, refunds and repayments on normal cards.

Merchants are made up. Each data date draws from its own random stream, so a date's
transactions do not depend on which earlier dates were generated.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from decimal import Decimal

Record = dict[str, object]

# Fictitious merchants and their ISO 18245 merchant category codes.
MERCHANTS = (
    ("东方便利店", "5499"), ("惠民超市", "5411"), ("城南加油站", "5541"), ("江畔小厨", "5812"),
    ("老街面馆", "5814"), ("晨曦咖啡馆", "5814"), ("和丰烘焙坊", "5462"), ("仁心药房", "5912"),
    ("墨香书店", "5942"), ("四季服饰", "5651"), ("新禾家电", "5722"), ("安居家具", "5712"),
    ("绿野生鲜", "5411"), ("云水宾馆", "7011"), ("畅行出租车", "4121"), ("远帆旅行社", "4722"),
    ("安和体检中心", "8099"), ("明眸眼镜店", "8043"), ("小树苗培训学校", "8299"),
    ("顺意快递", "4215"), ("月湖影院", "7832"), ("果香水果店", "5499"),
)
_MERCHANT_WEIGHTS = (14, 14, 8, 8, 8, 6, 4, 4, 2, 4, 2, 1, 6, 2, 4, 1, 1, 1, 1, 3, 3, 3)
REPAYMENT = ("信用卡还款", "6012")  # repayments are credited by the bank itself

ACTIVE_RATE = 0.10  # share of normal cards used on a day
_COUNT_WEIGHTS = (6, 3, 1)  # 1, 2 or 3 transactions on a card used that day
CREDIT_RATE = 0.12  # share of transactions that credit the card
REFUND_SHARE = 0.3  # of the credits, the share that are merchant refunds (the rest: repayments)


def _money(cents: int) -> Decimal:
    return Decimal(cents).scaleb(-2)


def card_transactions(seed: int, day: date, cards: Iterable[Record]) -> list[Record]:
    """The day's transactions on the cards with status N, in time order."""
    rng = random.Random(f"{seed}/cards/{day.isoformat()}")
    normal = [card["card_no"] for card in cards if card["card_status"] == "N"]
    used = rng.sample(normal, int(ACTIVE_RATE * len(normal) + rng.random()))
    moves = []
    for card_no in used:
        for _ in range(rng.choices((1, 2, 3), weights=_COUNT_WEIGHTS)[0]):
            if rng.random() < 0.9:
                second = rng.randrange(8 * 3600, 22 * 3600)
            else:
                second = rng.randrange(86_400)
            if rng.random() >= CREDIT_RATE:
                merchant, mcc = rng.choices(MERCHANTS, weights=_MERCHANT_WEIGHTS)[0]
                moves.append((second, card_no, int(rng.lognormvariate(4.8, 1.1) * 100) + 100,
                              "D", merchant, mcc))
            elif rng.random() < REFUND_SHARE:
                merchant, mcc = rng.choices(MERCHANTS, weights=_MERCHANT_WEIGHTS)[0]
                moves.append((second, card_no, int(rng.lognormvariate(4.5, 1.0) * 100) + 100,
                              "C", merchant, mcc))
            else:
                cents = rng.randint(5, 200) * 10_000
                moves.append((second, card_no, cents, "C", *REPAYMENT))
    midnight = datetime(day.year, day.month, day.day)
    return [
        {
            "txn_id": f"CT{day:%Y%m%d}{i:07d}",
            "card_no": card_no,
            "txn_time": midnight + timedelta(seconds=second),
            "amount": _money(cents),
            "direction": direction,
            "merchant_name": merchant,
            "mcc": mcc,
        }
        for i, (second, card_no, cents, direction, merchant, mcc) in enumerate(sorted(moves), 1)
    ]
