"""Cut a small, referentially consistent slice of TPC-DI generator output (e.g. the SF3 data)
into tests/fixtures/tpcdi_slice: the first CUSTOMERS customers of the historical load with their
accounts, trades, holdings, cash and watches, the companies and securities those trades touch,
and the incremental batches' rows of those customers and accounts (plus the customers and
accounts the incrementals create). A few thousand rows per file at most.

    .venv/bin/python examples/tpcdi/scripts/make_slice.py /tmp/tpcdi-sf3 tests/fixtures/tpcdi_slice
"""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

CUSTOMERS = 40
SYMBOLS = 6
FIN_COMPANIES = 12
TRADES, ROWS = 2000, 3000
PROSPECTS = 400


def pipe(path: Path) -> list[list[str]]:
    return [line.split("|") for line in path.read_text().splitlines() if line]


def write(path: Path, rows: list[list[str]], sep: str = "|") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(sep.join(r) + "\n" for r in rows))


def main(source: Path, target: Path) -> None:
    if target.exists():
        shutil.rmtree(target)
    b1, out1 = source / "Batch1", target / "Batch1"
    out1.mkdir(parents=True)
    for name in ("BatchDate.txt", "StatusType.txt", "TaxRate.txt", "TradeType.txt", "Industry.txt"):
        shutil.copy(b1 / name, out1 / name)

    # customers 0..CUSTOMERS-1: every action of theirs, as delivered
    xml = (b1 / "CustomerMgmt.xml").read_text()
    head, body = xml.split("<TPCDI:Action ", 1)
    actions = ["<TPCDI:Action " + a for a in body.split("<TPCDI:Action ")]
    actions[-1] = actions[-1].split("</TPCDI:Actions>")[0]
    kept = [a for a in actions if int(re.search(r'C_ID="(\d+)"', a)[1]) < CUSTOMERS]
    (out1 / "CustomerMgmt.xml").write_text(head + "".join(a.rstrip() + "\n\t" for a in kept)
                                           .rstrip("\t") + "</TPCDI:Actions>\n")
    accounts = {m for a in kept for m in re.findall(r'CA_ID="(\d+)"', a)}
    brokers = {m for a in kept for m in re.findall(r"<CA_B_ID>(\d+)</CA_B_ID>", a)}
    customers = {str(c) for c in range(CUSTOMERS)}

    # incrementals: the slice's customers and accounts, and those the batch creates
    for batch in (2, 3):
        src, out = source / f"Batch{batch}", target / f"Batch{batch}"
        out.mkdir(parents=True)
        shutil.copy(src / "BatchDate.txt", out / "BatchDate.txt")
        rows = pipe(src / "Customer.txt")
        customers |= {r[2] for r in rows if r[0] == "I"}
        write(out / "Customer.txt", [r for r in rows if r[2] in customers])
        rows = pipe(src / "Account.txt")
        accounts |= {r[2] for r in rows if r[4] in customers}
        brokers |= {r[3] for r in rows if r[4] in customers}
        write(out / "Account.txt", [r for r in rows if r[2] in accounts])

    trades = [r for r in pipe(b1 / "Trade.txt") if r[8] in accounts][:TRADES]
    symbols = {r[5] for r in trades}
    trade_ids = {r[0] for r in trades}
    known = set(trade_ids)  # an update only of a trade the slice holds
    for batch in (2, 3):
        src = source / f"Batch{batch}"
        rows = []
        for r in pipe(src / "Trade.txt"):  # in file order: an update may follow its insert
            if r[10] in accounts and (r[0] == "I" or r[2] in known):
                rows.append(r)
                known.add(r[2])
        symbols |= {r[7] for r in rows}
        write(target / f"Batch{batch}" / "Trade.txt", rows)
    write(out1 / "Trade.txt", trades)
    write(out1 / "TradeHistory.txt", [r for r in pipe(b1 / "TradeHistory.txt") if r[0] in trade_ids])
    write(out1 / "HoldingHistory.txt",
          [r for r in pipe(b1 / "HoldingHistory.txt") if r[1] in trade_ids])
    write(out1 / "CashTransaction.txt",
          [r for r in pipe(b1 / "CashTransaction.txt") if r[0] in accounts][:ROWS])
    watches = [r for r in pipe(b1 / "WatchHistory.txt") if r[0] in customers][:ROWS]
    symbols |= {r[1] for r in watches}
    write(out1 / "WatchHistory.txt", watches)
    market = sorted(symbols)[:SYMBOLS]
    write(out1 / "DailyMarket.txt",
          [r for r in pipe(b1 / "DailyMarket.txt") if r[1] in market][:ROWS])
    for batch in (2, 3):
        src, out = source / f"Batch{batch}", target / f"Batch{batch}"
        ids = {r[2] for r in pipe(out / "Trade.txt")} | trade_ids
        write(out / "HoldingHistory.txt", [r for r in pipe(src / "HoldingHistory.txt") if r[3] in ids])
        write(out / "CashTransaction.txt",
              [r for r in pipe(src / "CashTransaction.txt") if r[2] in accounts])
        write(out / "WatchHistory.txt",
              [r for r in pipe(src / "WatchHistory.txt") if r[2] in customers])
        write(out / "DailyMarket.txt", [r for r in pipe(src / "DailyMarket.txt") if r[3] in market])

    hr = [line.split(",") for line in (b1 / "HR.csv").read_text().splitlines() if line]
    write(out1 / "HR.csv", [r for r in hr if r[0] in brokers or int(r[0]) < 300], sep=",")
    # prospects: the first PROSPECTS of Batch1 and every one an incremental changes
    prospects = [{line.split(",")[0]: line for line in
                  (source / f"Batch{batch}" / "Prospect.csv").read_text().splitlines()}
                 for batch in (1, 2, 3)]
    kept_ids = set(list(prospects[0])[:PROSPECTS]) | {
        key for before, after in zip(prospects, prospects[1:])
        for key, line in after.items() if before.get(key) != line}
    for batch, lines in enumerate(prospects, start=1):
        (target / f"Batch{batch}" / "Prospect.csv").write_text(
            "".join(line + "\n" for key, line in lines.items() if key in kept_ids))

    # FINWIRE: every company and security record, financials of a few companies only
    fin_companies: set[str] = set()
    for path in sorted(b1.glob("FINWIRE[0-9][0-9][0-9][0-9]Q[1-4]")):
        records = []
        for line in path.read_bytes().split(b"\n"):
            kind = line[15:18]
            if kind == b"CMP":
                if len(fin_companies) < FIN_COMPANIES:
                    fin_companies.add(line[78:88].decode().strip())
                records.append(line)
            elif kind == b"SEC":
                records.append(line)
            elif kind == b"FIN" and line[186:].decode().strip() in fin_companies:
                records.append(line)
        (out1 / path.name).write_bytes(b"\n".join(records) + b"\n")
    # the generator's audit figures are for the whole data set, not the slice: left out
    calendar(b1, target)


def calendar(b1: Path, target: Path) -> None:
    """Date.txt and Time.txt cut to the days and seconds the slice's records mention (and the
    calendar's first day, where batch 1's window opens), so every date and time key resolves."""
    days, seconds = set(), set()
    for path in target.rglob("*"):
        if path.is_file() and path.name not in ("Date.txt", "Time.txt"):
            text = path.read_text(errors="replace")
            days |= {"".join(m) for m in re.findall(r"(\d{4})-(\d{2})-(\d{2})", text)}
            days |= set(re.findall(r"^(\d{8})-\d{6}", text, re.M))  # FINWIRE's PTS
            seconds |= {"".join(m) for m in re.findall(r"[ T](\d{2}):(\d{2}):(\d{2})", text)}
            seconds |= set(re.findall(r"^\d{8}-(\d{6})", text, re.M))
    dates = pipe(b1 / "Date.txt")
    write(target / "Batch1" / "Date.txt", dates[:1] + [r for r in dates[1:] if r[0] in days])
    write(target / "Batch1" / "Time.txt", [r for r in pipe(b1 / "Time.txt") if r[0] in seconds])


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
