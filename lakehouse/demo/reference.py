"""Reference data of the demo bank: branches, the product catalogue and the code tables.

Delivered in full every day and nearly constant: now and then a branch is renamed.
"""

from __future__ import annotations

import random
from datetime import date

Record = dict[str, object]

# branch id: (name, city, open date); the ids are bank.BRANCHES
BRANCHES = {
    "B0101": ("北京分行营业部", "北京", date(1996, 4, 18)),
    "B0102": ("北京东城支行", "北京", date(1998, 9, 1)),
    "B0103": ("北京海淀支行", "北京", date(2003, 6, 16)),
    "B0104": ("北京朝阳支行", "北京", date(2009, 12, 8)),
    "B0201": ("上海分行营业部", "上海", date(1999, 3, 22)),
    "B0202": ("上海徐汇支行", "上海", date(2004, 11, 5)),
    "B0203": ("上海浦东支行", "上海", date(2012, 7, 30)),
    "B0301": ("深圳分行营业部", "深圳", date(2005, 8, 26)),
    "B0302": ("深圳福田支行", "深圳", date(2014, 1, 13)),
    "B0401": ("杭州分行营业部", "杭州", date(2016, 10, 10)),
}

# product code: (name, type, currency)
PRODUCTS = {
    "DEP001": ("活期存款", "DEPOSIT", "CNY"),
    "DEP002": ("定期存款", "DEPOSIT", "CNY"),
    "DEP003": ("通知存款", "DEPOSIT", "CNY"),
    "LN001": ("个人消费贷款", "LOAN", "CNY"),
    "LN002": ("个人汽车贷款", "LOAN", "CNY"),
    "LN003": ("小微企业经营贷款", "LOAN", "CNY"),
    "CARD001": ("标准信用卡", "CARD", "CNY"),
}

# code type: {code: (Chinese name, English name)}
CODES = {
    "ACCOUNT_STATUS": {"A": ("正常", "active"), "C": ("销户", "closed")},
    "CARD_STATUS": {"N": ("正常", "normal"), "F": ("冻结", "frozen"), "C": ("销卡", "cancelled")},
    "LOAN_STATUS": {"N": ("正常", "normal"), "O": ("逾期", "overdue"), "S": ("结清", "settled")},
    "SCHEDULE_STATUS": {"P": ("已还", "paid"), "D": ("未到期", "not yet due"),
                        "O": ("逾期", "overdue")},
    "CHANNEL": {"ATM": ("自助设备", "ATM"), "MOB": ("手机银行", "mobile banking"),
                "CNT": ("柜面", "counter"), "WEB": ("网上银行", "online banking")},
    "CURRENCY": {"CNY": ("人民币", "renminbi"), "USD": ("美元", "US dollar")},
    "DIRECTION": {"C": ("贷", "credit"), "D": ("借", "debit")},
}

RENAME_RATE = 0.02  # chance per day that one branch is renamed (each branch at most once)


class ReferenceData:
    """The reference tables as delivered each day, with their own random stream."""

    def __init__(self, rng: random.Random):
        self._rng = rng
        self._names = {branch: name for branch, (name, _, _) in BRANCHES.items()}
        self._renamed: set[str] = set()

    def simulate(self, day: date) -> None:
        rng = self._rng
        if rng.random() < RENAME_RATE:
            branch = rng.choice(tuple(BRANCHES))
            if branch not in self._renamed:
                self._renamed.add(branch)
                name = self._names[branch]
                self._names[branch] = name.replace("营业部", "中心营业部") if name.endswith("营业部") \
                    else name.replace("支行", "中心支行")

    def deliver(self) -> tuple[list[Record], list[Record], list[Record]]:
        branches = [
            {"branch_id": branch, "branch_name": self._names[branch], "city": city,
             "open_date": opened}
            for branch, (_, city, opened) in BRANCHES.items()
        ]
        products = [
            {"product_code": code, "product_name": name, "product_type": kind, "currency": currency}
            for code, (name, kind, currency) in PRODUCTS.items()
        ]
        codes = [
            {"code_type": code_type, "code": code, "code_name": zh, "code_name_en": en}
            for code_type, entries in CODES.items()
            for code, (zh, en) in entries.items()
        ]
        return branches, products, codes
