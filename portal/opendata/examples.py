"""The examples of /developers, written once: the page shows them and a test runs them as shown
(tests/functional/test_developers.py), so an example that stops working fails the suite."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Example:
    key: str
    title: str
    explanation: str
    curl: str
    python: str


def examples(base: str) -> list[Example]:
    """The examples with the portal's own address in them (``base``: scheme and host)."""
    return [
        Example(
            "lookup", "权属查询：某处的某类部件归谁管",
            "按部件/事件代码和位置（经纬度或区域代码）查询权属、养护、主管、执法单位，以及法律依据和处置时限。",
            f"curl -s '{base}/api/v1/responsibility?item_type=0101&lat=30.2336&lon=120.0860'",
            f'''import requests

BASE = "{base}"
answer = requests.get(f"{{BASE}}/api/v1/responsibility",
                      params={{"item_type": "0101", "lat": 30.2336, "lon": 120.0860}}, timeout=10)
answer.raise_for_status()
for role in answer.json()["roles"]:
    print(role["role"], role["agency"]["name"] if role["agency"] else "（无）")
''',
        ),
        Example(
            "search", "检索法规条文与权责条目",
            "一句话检索法规条文；type=duty 检索权责条目。结果带高亮片段和分面计数。",
            f"curl -s -G '{base}/api/v1/search' --data-urlencode 'q=井盖缺失谁负责' -d page_size=5",
            f'''import requests

BASE = "{base}"
found = requests.get(f"{{BASE}}/api/v1/search", params={{"q": "井盖缺失谁负责", "page_size": 5}}, timeout=10)
found.raise_for_status()
print(found.json()["total"], "条结果")
''',
        ),
        Example(
            "cases", "公开案件：游标翻页与稀疏字段",
            "按 next 链接一页页取下去，直到 next 为 null；翻页期间新增案件不会造成遗漏或重复。"
            "fields= 只取需要的字段。",
            f"curl -s '{base}/api/v1/cases?page_size=100&fields=case_number,status,agency.name,updated_at'",
            f'''import requests

BASE = "{base}"
url = f"{{BASE}}/api/v1/cases?page_size=100&fields=case_number,status,agency.name"
seen = 0
while url:
    page = requests.get(url, timeout=10).json()
    seen += len(page["items"])
    url = page["next"]
print(seen, "件公开案件")
''',
        ),
        Example(
            "open311", "Open311 GeoReport v2：服务目录与提交问题",
            "提交需要 API 密钥（放在 api_key 参数里）；返回的 token 可换取案件编号。",
            f"curl -s '{base}/open311/v2/services.json'\n"
            f"curl -s -X POST '{base}/open311/v2/requests.json' -d api_key=\"$PORTAL_API_KEY\" \\\n"
            f"     -d service_code=0101 -d lat=30.2336 -d long=120.0860 -d description=井盖松动",
            f'''import os

import requests

BASE = "{base}"
services = requests.get(f"{{BASE}}/open311/v2/services.json", timeout=10).json()
created = requests.post(f"{{BASE}}/open311/v2/requests.json", timeout=10, data={{
    "api_key": os.environ["PORTAL_API_KEY"], "service_code": services[0]["service_code"],
    "lat": 30.2336, "long": 120.0860, "description": "井盖松动"}})
created.raise_for_status()
print(created.json()[0]["service_request_id"])
''',
        ),
        Example(
            "exports", "批量下载与增量同步",
            "整表流式下载（gzip 压缩传输）；带 updated_since 只取变化的行，权责条目、专家裁定的撤回以 deleted=true 的墓碑行给出；"
            "再次下载时带上 ETag，未变化则返回 304。",
            f"curl -s --compressed -o cases.csv '{base}/opendata/cases.csv'\n"
            f"curl -s '{base}/opendata/duties.jsonl?updated_since=2026-11-01'",
            f'''import json

import requests

BASE = "{base}"
with requests.get(f"{{BASE}}/opendata/duties.jsonl", stream=True, timeout=60) as export:
    export.raise_for_status()
    duties = [json.loads(line) for line in export.iter_lines() if line]
again = requests.get(f"{{BASE}}/opendata/duties.jsonl", headers={{"If-None-Match": export.headers["ETag"]}},
                     timeout=60)
print(len(duties), "条权责条目；再次请求：", again.status_code)
''',
        ),
    ]
