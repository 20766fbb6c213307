"""The pages for people, served by the same server: the service catalog, the call statistics and
the customer 360 lookup (which calls the customer_360 service with the signed-in person's API key,
so it shows exactly what that principal may see, masked the same way)."""

from __future__ import annotations

from html import escape

_STYLE = """<style>
body{font-family:system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse}
td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f3f3f3}.masked{color:#a33}nav a{margin-right:1em}code{background:#f5f5f5}
</style>"""
_NAV = '<nav><a href="/">服务目录 / catalog</a><a href="/customer-360">客户360 / customer 360</a>' \
       '<a href="/stats">调用统计 / call statistics</a><a href="/openapi.json">OpenAPI</a></nav>'


def _page(title: str, body: str) -> str:
    return (f'<!doctype html><html lang="zh"><head><meta charset="utf-8"><title>{escape(title)}</title>'
            f"{_STYLE}</head><body>{_NAV}<h1>{escape(title)}</h1>{body}</body></html>")


def catalog_entries(live) -> list[dict]:
    """The published services as the catalog lists them."""
    entries = []
    for c in live.published():
        snapshot = live.copies[c.name].snapshot
        levels = live.levels.get(c.table, {})
        entries.append({
            "service": c.name, "version": c.version, "state": live.states[c.name].state,
            "owner": c.owner, "grade": c.grade, "description": c.description, "table": c.table,
            "path": f"/services/{c.name}", "parameters": [{"name": p.name, "type": p.type}
                                                          for p in c.query.parameters],
            "output": [{"column": col, "level": levels.get(col, 5)} for col in c.query.output],
            "consumers": list(c.consumers), "rate_per_second": c.limits.rate_per_second,
            "latency_p99_ms": c.limits.latency_p99_ms,
            "data_date": snapshot.data_date.isoformat() if snapshot else None})
    return entries


def _outputs(entry: dict) -> str:
    return ", ".join(f"{o['column']} (L{o['level']})" for o in entry["output"])


def catalog_page(live) -> str:
    rows = "".join(
        f"<tr><td><code>{escape(e['service'])}</code> v{e['version']}</td><td>{escape(e['state'])}</td>"
        f"<td>{escape(e['description'])}</td><td>{escape(e['owner'])}</td><td>{escape(e['grade'])}</td>"
        f"<td><code>GET {escape(e['path'])}?"
        + "&amp;".join(f"{escape(p['name'])}=&lt;{escape(p['type'])}&gt;" for p in e["parameters"])
        + f"</code></td><td>{escape(_outputs(e))}</td>"
        f"<td>{escape(', '.join(e['consumers']))}</td><td>{e['rate_per_second']:g}/s, p99 ≤ "
        f"{e['latency_p99_ms']:g} ms</td><td>{escape(e['data_date'] or 'loading')}</td></tr>"
        for e in catalog_entries(live))
    return _page("数据服务目录 / data service catalog", (
        '<table id="catalog"><tr><th>service</th><th>state</th><th>description</th><th>owner</th>'
        "<th>grade</th><th>call</th><th>output (security level)</th><th>consumers</th><th>limits</th>"
        f"<th>data date</th></tr>{rows}</table>"))


def stats_page(live) -> str:
    rows = "".join(
        f"<tr><td>{escape(s['service'])}</td><td>{escape(s['consumer'])}</td><td>{s['calls']}</td>"
        f"<td>{s['errors']}</td><td>{s['refused']}</td><td>{s['limited']}</td><td>{s['p50_ms']}</td>"
        f"<td>{s['p99_ms']}</td><td>{s['max_ms']}</td></tr>" for s in live.stats.totals())
    return _page("调用统计 / call statistics", (
        "<p>Since this server started; every window is also written to "
        "<code>governance.service_calls</code>.</p>"
        '<table id="stats"><tr><th>service</th><th>consumer</th><th>calls</th><th>errors</th>'
        "<th>refused</th><th>limited</th><th>p50 ms</th><th>p99 ms</th><th>max ms</th></tr>"
        f"{rows}</table>"))


def customer_360_page() -> str:
    script = """<script>
const form = document.getElementById('lookup');
form.addEventListener('submit', async (event) => {
  event.preventDefault();
  const key = document.getElementById('key').value.trim();
  sessionStorage.setItem('lakehouse-key', key);
  const party = document.getElementById('party').value.trim();
  const out = document.getElementById('result');
  const answer = await fetch('/services/customer_360?party_id=' + encodeURIComponent(party),
                             {headers: {'X-API-Key': key}});
  const body = await answer.json();
  out.replaceChildren();
  if (!answer.ok) {
    const p = document.createElement('p');
    p.id = 'error';
    p.textContent = answer.status + ': ' + body.detail +
      (body.problems || []).map(x => ' — ' + x.message + (x.fix ? ' (' + x.fix + ')' : '')).join('');
    out.append(p);
    return;
  }
  if (!body.rows.length) { out.textContent = 'no customer ' + party + ' on ' + body.data_date; return; }
  const table = document.createElement('table');
  table.id = 'customer';
  for (const [column, value] of Object.entries(body.rows[0])) {
    const tr = table.insertRow();
    tr.insertCell().textContent = column;
    const cell = tr.insertCell();
    cell.dataset.column = column;
    cell.textContent = Array.isArray(value) ? value.join(', ') : (value === null ? '' : String(value));
    if (body.masked.includes(column)) { cell.className = 'masked'; cell.title = 'masked for your roles'; }
  }
  out.append(table);
});
document.getElementById('key').value = sessionStorage.getItem('lakehouse-key') || '';
</script>"""
    return _page("客户360查询 / customer 360", (
        '<form id="lookup"><label>API key <input id="key" type="password" size="60" '
        'autocomplete="off"></label><br><label>party id <input id="party" size="30"></label> '
        '<button id="go" type="submit">查询 / look up</button></form>'
        '<p>Values shown in <span class="masked">red</span> are masked for your roles.</p>'
        f'<div id="result"></div>{script}'))
