"""Writes tests/data/tiny_forms from tests/data/tiny: the same rows and instants as Chinese
business systems export them. Run from the repository root: python3 tests/data/tiny_forms/make.py
(needs openpyxl; the outputs are committed, so the tests do not).

- customers/customers.csv: GB18030 (Excel's and most ERPs' encoding on a Chinese Windows)
- orders/orders.csv: order_ts as ISO 8601 with a +08:00 offset (Java, most APIs)
- events/events.csv: event_ts as epoch milliseconds (app logs)
- feedback/feedback.xlsx: an Excel sheet, ts as real date-time cells
- order_items, social_interactions: copied unchanged
Unparseable values stay as they are.
"""
import csv, datetime, io, os, shutil

SRC, DST = "tests/data/tiny", "tests/data/tiny_forms"
UTC8 = datetime.timezone(datetime.timedelta(hours=8))


def parse(text, fmts=("%Y-%m-%d %H:%M:%S", "%Y/%m/%d %H:%M")):
    for f in fmts:
        try:
            return datetime.datetime.strptime(text, f).replace(tzinfo=datetime.timezone.utc)
        except ValueError:
            pass
    return None


def rows(table, name):
    with open(os.path.join(SRC, table, name), encoding="utf-8", newline="") as f:
        return list(csv.reader(f))


def write_csv(table, name, data, encoding="utf-8"):
    os.makedirs(os.path.join(DST, table), exist_ok=True)
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(data)
    with open(os.path.join(DST, table, name), "w", encoding=encoding, newline="") as f:
        f.write(out.getvalue())


def convert(data, column, to):
    i = data[0].index(column)
    for r in data[1:]:
        t = parse(r[i])
        if t is not None:
            r[i] = to(t)
    return data


write_csv("customers", "customers.csv", rows("customers", "customers.csv"), encoding="gb18030")
write_csv("orders", "orders.csv", convert(rows("orders", "orders.csv"), "order_ts", lambda t: t.astimezone(UTC8).isoformat()))
write_csv("events", "events.csv", convert(rows("events", "events.csv"), "event_ts", lambda t: str(int(t.timestamp() * 1000))))
for table in ("order_items", "social_interactions"):
    shutil.copytree(os.path.join(SRC, table), os.path.join(DST, table), dirs_exist_ok=True)

import openpyxl  # noqa: E402

book = openpyxl.Workbook()
sheet = book.active
sheet.title = "反馈"
data = rows("feedback", "feedback.csv")
ts = data[0].index("ts")
for n, r in enumerate(data):
    cells = list(r)
    if n > 0:
        t = parse(r[ts])
        if t is not None:
            cells[ts] = t.replace(tzinfo=None)
        cells = [c if c != "" else None for c in cells]
    sheet.append(cells)
os.makedirs(os.path.join(DST, "feedback"), exist_ok=True)
book.save(os.path.join(DST, "feedback", "feedback.xlsx"))
