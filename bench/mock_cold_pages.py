"""Cold pages of one list rendered in one process, through the app but without HTTP.

    PYTHONPATH=TREE .venv/bin/python bench/mock_cold_pages.py RESOURCE [PAGES] [DAY]
        env: MOCK_VOLUME (20000), WARM_BALANCE=1 (build the ledger's books first),
             PROFILE=FILE (a cProfile dump of the pages)

A fresh app (page cache off, clock frozen at the bench's MOCK_NOW) renders one page from the
top (not counted: imports, first memos), then PAGES pages of 100 from `created[lt]` DAY days
back, none asked before. Prints wall and CPU records/s (CPU time is steadier on a shared
machine) and a digest of the bodies, equal between two trees whose mocks are byte-identical.
"""

import hashlib
import os
import sys
import time

os.environ.setdefault("MOCK_NOW", "2026-02-01T00:00:00Z")
os.environ.setdefault("MOCK_VOLUME", "20000")
os.environ["MOCK_PAGE_CACHE_MB"] = "0"

from mock_api.app import create_app  # noqa: E402

NOW = 1769904000
DAY = 86_400
LIST_PARAMS = {"subscriptions": {"status": "all", "expand[]": "data.discounts"}}


def main() -> int:
    resource = sys.argv[1]
    pages = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    day = int(sys.argv[3]) if len(sys.argv) > 3 else 9
    extra = LIST_PARAMS.get(resource, {})
    client = create_app().test_client()
    headers = {"Authorization": "Bearer sk_test_cold"}
    warm = time.process_time()
    if os.environ.get("WARM_BALANCE"):
        client.get("/v1/balance", headers=headers)
    client.get(f"/v1/{resource}", query_string={"limit": 100, **extra}, headers=headers)
    print(f"warm-up: {time.process_time() - warm:.2f} CPU s")
    digest = hashlib.sha256()

    def run() -> int:
        records, cursor = 0, None
        for _ in range(pages):
            query = {"limit": 100, "created[lt]": NOW - day * DAY, **extra}
            if cursor:
                query["starting_after"] = cursor
            body = client.get(f"/v1/{resource}", query_string=query, headers=headers)
            digest.update(body.get_data())
            page = body.get_json()
            records += len(page["data"])
            if not page["has_more"]:
                break
            cursor = page["data"][-1]["id"]
        return records

    profile_to = os.environ.get("PROFILE")
    if profile_to:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    wall, cpu = time.perf_counter(), time.process_time()
    records = run()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    if profile_to:
        profiler.disable()
        profiler.dump_stats(profile_to)
    print(
        f"{resource}: {records} records, {records / wall:.0f} records/s, "
        f"{records / cpu:.0f} records/CPU-s; digest {digest.hexdigest()[:16]}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
