"""The demo bank's loan book: loans, their repayment schedules and the repayments of each day.

Loans are repaid in equal principal installments (等额本金), monthly on the day of the month the
loan started (the 28th at the latest). An installment falling due is repaid that day, or the loan
becomes overdue until it cures by repaying every overdue installment; its days overdue count
from the earliest unpaid due date, that date being day 1. A loan whose installments are all paid
is settled: it is delivered once more with status S and then leaves the extract.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal

Record = dict[str, object]

LOAN_PRODUCTS = {
    "LN001": "personal consumer loan",
    "LN002": "car loan",
    "LN003": "small business loan",
}
_PRODUCT_WEIGHTS = (60, 25, 15)
_PRINCIPAL_STEPS = {"LN001": (2, 60, 500_000), "LN002": (5, 40, 1_000_000),
                    "LN003": (10, 100, 1_000_000)}  # (low, high, step in cents)
_RATES = {
    "LN001": ("3.4500", "3.8500", "4.3500", "4.9000", "5.6000", "7.2000"),
    "LN002": ("3.6500", "3.9500", "4.3500", "4.7500"),
    "LN003": ("3.4500", "3.6500", "3.8500", "4.2000"),
}
TERMS = (12, 24, 36)
_TERM_WEIGHTS = (4, 3, 3)

LOAN_HOLDER_RATE = 0.12  # share of the first day's customers with a loan
NEW_LOAN_RATE = 0.0003  # new loans per live customer per day
REPAY_RATE = 0.97  # chance an installment is repaid on its due date
CURE_RATE = 0.3  # chance per day an overdue loan repays all its overdue installments
INITIAL_OVERDUE_RATE = 0.06  # share of loans overdue on the first day (of those with a due date behind them)


def _money(cents: int) -> Decimal:
    return Decimal(cents).scaleb(-2)


def add_months(day: date, months: int, on_day: int) -> date:
    """The date ``months`` months after ``day``'s month, on day ``on_day`` (at most 28)."""
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, on_day)


class _Loan:
    __slots__ = ("loan_id", "customer_id", "product_code", "principal", "rate", "start_date",
                 "dues", "principal_due", "interest_due", "status", "paid", "next", "settled_on")

    def __init__(self, loan_id: str, customer_id: str, product: str, principal: int, rate: str,
                 start_date: date, term: int):
        self.loan_id, self.customer_id, self.product_code = loan_id, customer_id, product
        self.principal, self.rate, self.start_date = principal, Decimal(rate), start_date
        on_day = min(start_date.day, 28)
        self.dues = [add_months(start_date, k, on_day) for k in range(1, term + 1)]
        share, rest = divmod(principal, term)
        self.principal_due = [share] * (term - 1) + [share + rest]
        rate_e4 = int(self.rate * 10_000)  # 4.3500 % -> 43500
        self.interest_due = []
        outstanding = principal
        for due in self.principal_due:
            self.interest_due.append((2 * outstanding * rate_e4 + 12_000_000) // 24_000_000)
            outstanding -= due
        self.status = ["D"] * term
        self.paid = 0  # principal repaid, in cents
        self.next = 0  # index of the first installment not paid
        self.settled_on: date | None = None

    def pay(self, k: int) -> int:
        """Mark installment ``k`` paid; return the amount paid in cents."""
        self.status[k] = "P"
        self.paid += self.principal_due[k]
        while self.next < len(self.status) and self.status[self.next] == "P":
            self.next += 1
        return self.principal_due[k] + self.interest_due[k]

    @property
    def overdue(self) -> bool:
        return self.next < len(self.status) and self.status[self.next] == "O"


class LoanBook:
    """Loans of the bank's customers, simulated day by day with its own random stream."""

    def __init__(self, rng: random.Random, start: date):
        self._rng = rng
        self._start = start
        self._loans: dict[str, _Loan] = {}  # live loans (settled ones until the day after), id order
        self._holding: set[str] = set()  # customers with a loan not settled
        self._seq = 0
        self._repayments: list[tuple[int, str, int, int]] = []  # second, loan id, installment no, cents

    def open_initial(self, customer_ids: Iterable[str]) -> None:
        """Loans that customers took out before the first day, with their history so far."""
        rng = self._rng
        first = self._start
        for cid in customer_ids:
            if rng.random() >= LOAN_HOLDER_RATE:
                continue
            term = rng.choices(TERMS, weights=_TERM_WEIGHTS)[0]
            started = first - timedelta(days=rng.randint(1, 30 * term))
            loan = self._open(cid, started, term)
            behind = sum(1 for due in loan.dues if due < first)
            late = 0
            if behind and rng.random() < INITIAL_OVERDUE_RATE:
                late = min(behind, rng.choices((1, 2, 3), weights=(7, 2, 1))[0])
            for k in range(behind - late):
                loan.pay(k)
            for k in range(behind - late, behind):
                loan.status[k] = "O"

    def _open(self, cid: str, started: date, term: int) -> _Loan:
        rng = self._rng
        product = rng.choices(tuple(LOAN_PRODUCTS), weights=_PRODUCT_WEIGHTS)[0]
        low, high, step = _PRINCIPAL_STEPS[product]
        principal = rng.randint(low, high) * step
        self._seq += 1
        loan = _Loan(f"L{self._seq:011d}", cid, product, principal, rng.choice(_RATES[product]),
                     started, term)
        self._loans[loan.loan_id] = loan
        self._holding.add(cid)
        return loan

    def _count(self, expected: float) -> int:
        whole = int(expected)
        return whole + (self._rng.random() < expected - whole)

    def simulate(self, day: date, live: Mapping[str, None]) -> None:
        """One day: settled loans leave, new loans start, due and overdue installments are repaid."""
        rng = self._rng
        for loan_id in [i for i, loan in self._loans.items() if loan.settled_on is not None]:
            del self._loans[loan_id]
        self._repayments = []
        new = self._count(NEW_LOAN_RATE * len(live))
        if new:
            candidates = [cid for cid in live if cid not in self._holding]
            for cid in rng.sample(candidates, min(new, len(candidates))):
                self._open(cid, day, rng.choices(TERMS, weights=_TERM_WEIGHTS)[0])
        for loan in self._loans.values():
            if loan.overdue and rng.random() < CURE_RATE:
                second = rng.randrange(8 * 3600, 22 * 3600)
                for k in [k for k, s in enumerate(loan.status) if s == "O"]:
                    self._repayments.append((second, loan.loan_id, k + 1, loan.pay(k)))
            k = loan.next  # installments run paid, overdue, then not yet due
            while k < len(loan.status) and loan.status[k] == "O":
                k += 1
            if k < len(loan.dues) and loan.dues[k] == day:
                if not loan.overdue and rng.random() < REPAY_RATE:
                    second = rng.randrange(0, 20 * 3600)
                    self._repayments.append((second, loan.loan_id, k + 1, loan.pay(k)))
                else:  # unpaid, or an overdue loan pays its oldest installments first
                    loan.status[k] = "O"
            if loan.next == len(loan.dues):
                loan.settled_on = day
                self._holding.discard(loan.customer_id)

    def deliver(self, day: date) -> tuple[list[Record], list[Record], list[Record]]:
        """The loan extract, the schedules of loans not settled and the day's repayments."""
        loans, schedule = [], []
        for loan in self._loans.values():
            if loan.settled_on is not None:
                status, days_overdue = "S", 0
            elif loan.overdue:
                status, days_overdue = "O", (day - loan.dues[loan.next]).days + 1
            else:
                status, days_overdue = "N", 0
            loans.append({
                "loan_id": loan.loan_id,
                "customer_id": loan.customer_id,
                "product_code": loan.product_code,
                "principal": _money(loan.principal),
                "outstanding": _money(loan.principal - loan.paid),
                "interest_rate": loan.rate,
                "status": status,
                "overdue_days": days_overdue,
                "start_date": loan.start_date,
                "maturity_date": loan.dues[-1],
            })
            if status == "S":
                continue
            for k, due in enumerate(loan.dues):
                schedule.append({
                    "loan_id": loan.loan_id,
                    "installment_no": k + 1,
                    "due_date": due,
                    "principal_due": _money(loan.principal_due[k]),
                    "interest_due": _money(loan.interest_due[k]),
                    "status": loan.status[k],
                })
        midnight = datetime(day.year, day.month, day.day)
        repayments = [
            {
                "repayment_id": f"R{day:%Y%m%d}{i:07d}",
                "loan_id": loan_id,
                "installment_no": number,
                "paid_time": midnight + timedelta(seconds=second),
                "amount": _money(cents),
            }
            for i, (second, loan_id, number, cents) in enumerate(sorted(self._repayments), 1)
        ]
        return loans, schedule, repayments
