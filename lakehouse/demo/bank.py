"""A small fictitious bank whose source systems deliver one set of extracts per data date.

``DemoBank`` simulates customers, deposit accounts, transactions, credit cards and their
transactions, loans with their repayment schedules and repayments, and reference data, day by
day. Everything is made up and deterministic for ``(customers, seed, start)``: the extracts for a
data date do not depend on which earlier dates were asked for. The core banking and card
entities draw from one random stream; card transactions, loans and reference data each have
their own, so adding them changed none of the others' values.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal
from operator import itemgetter

from lakehouse.demo.cards import card_transactions
from lakehouse.demo.identifiers import (
    DEMO_CARD_BINS,
    luhn_check_digit,
    make_card_number,
    make_id_number,
    make_mobile,
    make_name,
)
from lakehouse.demo.loans import LoanBook
from lakehouse.demo.reference import ReferenceData

Record = dict[str, object]
Move = tuple[int, str, int, str, str]  # second of day, account id, cents, direction, channel

BRANCHES = (
    "B0101", "B0102", "B0103", "B0104", "B0201", "B0202", "B0203", "B0301", "B0302", "B0401",
)
PRODUCTS = {"DEP001": "demand deposit", "DEP002": "time deposit", "DEP003": "notice deposit"}
CHANNELS = ("ATM", "MOB", "CNT", "WEB")

# Field names and Python value types of each delivered entity, in delivery order.
SCHEMAS: dict[str, dict[str, type]] = {
    "cbs.customer": {
        "customer_id": str, "customer_name": str, "id_number": str, "mobile": str,
        "branch_id": str, "open_date": date,
    },
    "cbs.account": {
        "account_id": str, "customer_id": str, "product_code": str, "currency": str,
        "balance": Decimal, "status": str, "open_date": date,
    },
    "cbs.transaction": {
        "txn_id": str, "account_id": str, "txn_time": datetime, "amount": Decimal,
        "direction": str, "channel": str,
    },
    "ccs.card": {
        "card_no": str, "id_number": str, "holder_name": str, "credit_limit": Decimal,
        "card_status": str, "issue_date": date,
    },
    "ccs.card_txn": {
        "txn_id": str, "card_no": str, "txn_time": datetime, "amount": Decimal,
        "direction": str, "merchant_name": str, "mcc": str,
    },
    "lns.loan": {
        "loan_id": str, "customer_id": str, "product_code": str, "principal": Decimal,
        "outstanding": Decimal, "interest_rate": Decimal, "status": str, "overdue_days": int,
        "start_date": date, "maturity_date": date,
    },
    "lns.repayment_schedule": {
        "loan_id": str, "installment_no": int, "due_date": date, "principal_due": Decimal,
        "interest_due": Decimal, "status": str,
    },
    "lns.repayment": {
        "repayment_id": str, "loan_id": str, "installment_no": int, "paid_time": datetime,
        "amount": Decimal,
    },
    "ref.branch": {"branch_id": str, "branch_name": str, "city": str, "open_date": date},
    "ref.product": {
        "product_code": str, "product_name": str, "product_type": str, "currency": str,
    },
    "ref.code": {"code_type": str, "code": str, "code_name": str, "code_name_en": str},
}
# The key attributes of each entity, as in its source contract.
KEYS: dict[str, tuple[str, ...]] = {
    "cbs.customer": ("customer_id",),
    "cbs.account": ("account_id",),
    "cbs.transaction": ("txn_id",),
    "ccs.card": ("card_no",),
    "ccs.card_txn": ("txn_id",),
    "lns.loan": ("loan_id",),
    "lns.repayment_schedule": ("loan_id", "installment_no"),
    "lns.repayment": ("repayment_id",),
    "ref.branch": ("branch_id",),
    "ref.product": ("product_code",),
    "ref.code": ("code_type", "code"),
}

# Daily event rates: a fraction of live customers (or open cards) unless noted.
CHANGE_RATE = 0.01
NEW_RATE = 0.005
CLOSE_RATE = 0.002
RETURN_RATE = 0.03  # chance per closed customer per day
CARD_HOLDER_RATE = 0.4  # share of customers holding credit cards
CARD_STATUS_RATE = 0.002
CARD_LIMIT_RATE = 0.003
CARD_CANCEL_RATE = 0.0005
_ACTIVITY = {"DEP001": 0.35, "DEP002": 0.02, "DEP003": 0.05}  # chance an account moves per day
_CHANNEL_WEIGHTS = (15, 45, 15, 25)
_FIRST_OPEN = date(2000, 1, 1)
_YEAR = 365.25


def _money(cents: int) -> Decimal:
    return Decimal(cents).scaleb(-2)


class DemoBank:
    """A fictitious bank simulated day by day from ``start``.

    ``extracts(d)`` returns, per source entity (see ``SCHEMAS``), the records delivered for
    data date ``d``: full extracts of ``cbs.customer`` (live customers), ``cbs.account``,
    ``ccs.card``, ``lns.loan`` (loans not settled, and those settled on ``d``),
    ``lns.repayment_schedule`` (every installment of the loans not settled) and the ``ref``
    tables, and only that day's ``cbs.transaction``, ``ccs.card_txn`` and ``lns.repayment``.
    Dates must be asked for in order; skipped dates are simulated silently, and the latest date
    may be asked for again (it returns the same lists). The records are copies: changing them
    never changes the simulation.
    """

    def __init__(self, customers: int, seed: int = 7, start: date = date(2026, 11, 1)):
        if customers < 1:
            raise ValueError(f"a bank needs at least one customer, got {customers}")
        self.start = start
        self._seed = seed
        self._rng = random.Random(seed)
        self._customers: dict[str, Record] = {}  # every customer ever, in id order
        self._live: dict[str, None] = {}  # ordered set of live customer ids
        self._closed: dict[str, date] = {}  # closed customer id -> closing date
        self._accounts: dict[str, Record] = {}
        self._balance: dict[str, int] = {}  # account id -> cents
        self._accounts_of: dict[str, list[str]] = {}
        self._cards: dict[str, Record] = {}
        self._cards_of: dict[str, list[str]] = {}
        self._used_ids: set[str] = set()
        self._customer_seq = 0
        self._account_seq = 0
        self._last: tuple[date, dict[str, list[Record]]] | None = None
        for _ in range(customers):
            self._add_customer(None)
        self._loans = LoanBook(random.Random(f"{seed}/loans"), start)
        self._loans.open_initial(self._live)
        self._reference = ReferenceData(random.Random(f"{seed}/ref"))

    @property
    def next_date(self) -> date:
        """The first data date not yet delivered."""
        return self.start if self._last is None else self._last[0] + timedelta(days=1)

    def extracts(self, data_date: date) -> dict[str, list[Record]]:
        """The records each source entity delivers for ``data_date``."""
        if self._last is not None and data_date == self._last[0]:
            return self._last[1]
        if data_date < self.next_date:
            raise ValueError(
                f"data date {data_date} is before the next undelivered date {self.next_date};"
                " create a new DemoBank to replay earlier dates"
            )
        day = self.next_date
        while day < data_date:
            self._advance(day)
            day += timedelta(days=1)
        result = self._deliver(data_date, self._advance(data_date))
        self._last = (data_date, result)
        return result

    def days(
        self, start: date | None = None, n: int = 1
    ) -> Iterator[tuple[date, dict[str, list[Record]]]]:
        """``(data_date, extracts)`` for ``n`` consecutive dates from ``start`` (default: next)."""
        first = self.next_date if start is None else start
        for i in range(n):
            day = first + timedelta(days=i)
            yield day, self.extracts(day)

    # --- population -------------------------------------------------------------------

    def _between(self, low: date, high: date) -> date:
        return date.fromordinal(self._rng.randint(low.toordinal(), high.toordinal()))

    def _years_before(self, day: date, low: int, high: int) -> date:
        span = self._rng.randint(int(low * _YEAR) + 1, int(high * _YEAR))
        return day - timedelta(days=span)

    def _add_customer(self, day: date | None) -> None:
        """A new customer opening today (``day``), or one from before ``start`` (``None``)."""
        rng = self._rng
        if day is None:
            birth = self._years_before(self.start, 18, 85)
            last = self.start - timedelta(days=1)
            adult = birth + timedelta(days=int(18 * _YEAR))
            opened = self._between(max(_FIRST_OPEN, adult), last)
        else:
            birth = self._years_before(day, 18, 70)
            last = opened = day
        self._customer_seq += 1
        cid = f"C{self._customer_seq:010d}"
        male = rng.random() < 0.5
        id_number = make_id_number(rng, birth, male)
        while id_number in self._used_ids:
            id_number = make_id_number(rng, birth, male)
        self._used_ids.add(id_number)
        self._customers[cid] = {
            "customer_id": cid,
            "customer_name": make_name(rng),
            "id_number": id_number,
            "mobile": make_mobile(rng),
            "branch_id": rng.choice(BRANCHES),
            "open_date": opened,
        }
        self._live[cid] = None
        self._accounts_of[cid] = []
        self._cards_of[cid] = []
        for i in range(rng.choices((1, 2, 3), weights=(5, 3, 2))[0]):
            acc_open = opened if i == 0 else self._between(opened, last)
            cents = 0 if day is not None else int(rng.lognormvariate(8.5, 1.6) * 100)
            self._open_account(cid, acc_open, "DEP001" if i == 0 else None, cents)
        if rng.random() < CARD_HOLDER_RATE:
            for _ in range(1 if rng.random() < 0.8 else 2):
                self._issue_card(cid, opened if day is not None else self._between(opened, last))

    def _open_account(self, cid: str, opened: date, product: str | None, cents: int) -> None:
        rng = self._rng
        self._account_seq += 1
        partial = self._customers[cid]["branch_id"][1:] + f"{self._account_seq:011d}"
        aid = partial + luhn_check_digit(partial)
        self._accounts[aid] = {
            "account_id": aid,
            "customer_id": cid,
            "product_code": product or rng.choices(tuple(PRODUCTS), weights=(5, 3, 2))[0],
            "currency": "USD" if rng.random() < 0.08 else "CNY",
            "balance": None,
            "status": "A",
            "open_date": opened,
        }
        self._balance[aid] = cents
        self._accounts_of[cid].append(aid)

    def _issue_card(self, cid: str, issued: date) -> None:
        rng = self._rng
        card_no = make_card_number(rng, rng.choice(DEMO_CARD_BINS))
        while card_no in self._cards:
            card_no = make_card_number(rng, rng.choice(DEMO_CARD_BINS))
        customer = self._customers[cid]
        status = "N"
        if issued < self.start:
            status = rng.choices(("N", "F", "C"), weights=(92, 3, 5))[0]
        limit = min(200, max(5, int(rng.lognormvariate(3.0, 0.8))))
        self._cards[card_no] = {
            "card_no": card_no,
            "id_number": customer["id_number"],
            "holder_name": customer["customer_name"],
            "credit_limit": _money(limit * 100_000),
            "card_status": status,
            "issue_date": issued,
        }
        self._cards_of[cid].append(card_no)

    # --- one day ----------------------------------------------------------------------

    def _count(self, expected: float) -> int:
        whole = int(expected)
        return whole + (self._rng.random() < expected - whole)

    def _advance(self, day: date) -> list[Move]:
        """One day of every system; the core banking system's account movements."""
        moves = self._simulate(day)
        self._loans.simulate(day, self._live)
        self._reference.simulate(day)
        return moves

    def _simulate(self, day: date) -> list[Move]:
        """Apply one day's events and return that day's account movements."""
        rng = self._rng
        moves: list[Move] = []
        for cid in rng.sample(list(self._live), self._count(CLOSE_RATE * len(self._live))):
            self._close(cid, day, moves)
        for cid, closed_on in list(self._closed.items()):
            if closed_on < day and rng.random() < RETURN_RATE:
                self._reopen(cid)
        for cid in rng.sample(list(self._live), self._count(CHANGE_RATE * len(self._live))):
            self._change(cid)
        for _ in range(self._count(NEW_RATE * len(self._live))):
            self._add_customer(day)
        self._card_events()
        self._transactions(day, moves)
        return moves

    def _close(self, cid: str, day: date, moves: list[Move]) -> None:
        del self._live[cid]
        self._closed[cid] = day
        for aid in self._accounts_of[cid]:
            if self._accounts[aid]["status"] == "A" and self._balance[aid] > 0:
                second = self._rng.randrange(9 * 3600, 17 * 3600)
                moves.append((second, aid, self._balance[aid], "D", "CNT"))
                self._balance[aid] = 0
            self._accounts[aid]["status"] = "C"
        for card_no in self._cards_of[cid]:
            self._cards[card_no]["card_status"] = "C"

    def _reopen(self, cid: str) -> None:
        del self._closed[cid]
        self._live[cid] = None
        if self._rng.random() < 0.5:
            self._customers[cid]["mobile"] = make_mobile(self._rng)
        for aid in self._accounts_of[cid]:
            self._accounts[aid]["status"] = "A"

    def _change(self, cid: str) -> None:
        rng = self._rng
        customer = self._customers[cid]
        what = rng.random()
        if what < 0.7:
            customer["mobile"] = make_mobile(rng)
        if what >= 0.6:
            customer["branch_id"] = rng.choice([b for b in BRANCHES if b != customer["branch_id"]])

    def _card_events(self) -> None:
        rng = self._rng
        open_cards = [c for c in self._cards.values() if c["card_status"] != "C"]
        for card in rng.sample(open_cards, self._count(CARD_STATUS_RATE * len(open_cards))):
            card["card_status"] = "F" if card["card_status"] == "N" else "N"
        for card in rng.sample(open_cards, self._count(CARD_LIMIT_RATE * len(open_cards))):
            old = int(card["credit_limit"]) // 1000
            new = min(200, max(5, round(old * rng.choice((0.5, 0.8, 1.2, 1.5, 2.0)))))
            if new == old:
                new = old - 1 if old == 200 else old + 1
            card["credit_limit"] = _money(new * 100_000)
        for card in rng.sample(open_cards, self._count(CARD_CANCEL_RATE * len(open_cards))):
            card["card_status"] = "C"

    def _transactions(self, day: date, moves: list[Move]) -> None:
        rng = self._rng
        for aid, account in self._accounts.items():
            if account["status"] != "A":
                continue
            fresh = account["open_date"] == day
            if not fresh and rng.random() >= _ACTIVITY[account["product_code"]]:
                continue
            n = 1 + (rng.random() < 0.3) + (rng.random() < 0.1)
            balance = self._balance[aid]
            for i, (second, channel) in enumerate(sorted(self._slot() for _ in range(n))):
                if fresh and i == 0:  # the opening deposit
                    direction = "C"
                    cents = int(rng.lognormvariate(8.0, 1.5) * 100) + 100
                else:
                    direction = "D" if balance > 0 and rng.random() < 0.55 else "C"
                    if channel == "ATM":
                        cents = rng.randint(1, 30) * 10_000
                    else:
                        cents = int(rng.lognormvariate(5.5, 1.4) * 100) + 1
                if direction == "D":
                    cents = min(cents, balance)
                    balance -= cents
                else:
                    balance += cents
                moves.append((second, aid, cents, direction, channel))
            self._balance[aid] = balance

    def _slot(self) -> tuple[int, str]:
        """When and through which channel a movement happens; counters keep office hours."""
        rng = self._rng
        channel = rng.choices(CHANNELS, weights=_CHANNEL_WEIGHTS)[0]
        if channel == "CNT":
            return rng.randrange(9 * 3600, 17 * 3600), channel
        return rng.randrange(86_400), channel

    def _deliver(self, day: date, moves: list[Move]) -> dict[str, list[Record]]:
        midnight = datetime(day.year, day.month, day.day)
        accounts = []
        for aid, account in self._accounts.items():
            record = dict(account)
            record["balance"] = _money(self._balance[aid])
            accounts.append(record)
        loans, schedule, repayments = self._loans.deliver(day)
        branches, products, codes = self._reference.deliver()
        return {
            "cbs.customer": [dict(c) for cid, c in self._customers.items() if cid in self._live],
            "cbs.account": accounts,
            "cbs.transaction": [
                {
                    "txn_id": f"T{day:%Y%m%d}{i:07d}",
                    "account_id": aid,
                    "txn_time": midnight + timedelta(seconds=second),
                    "amount": _money(cents),
                    "direction": direction,
                    "channel": channel,
                }
                for i, (second, aid, cents, direction, channel) in enumerate(
                    sorted(moves, key=itemgetter(0, 1)), 1
                )
            ],
            "ccs.card": [dict(c) for c in self._cards.values()],
            "ccs.card_txn": card_transactions(self._seed, day, self._cards.values()),
            "lns.loan": loans,
            "lns.repayment_schedule": schedule,
            "lns.repayment": repayments,
            "ref.branch": branches,
            "ref.product": products,
            "ref.code": codes,
        }
