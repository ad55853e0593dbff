from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from stream.domain.readers import ClickstreamError, read_clickstream


def test_jdata_sample_types_and_ids(jdata_dir: Path) -> None:
    r = read_clickstream([jdata_dir / "JData_Action_201602.csv.gz"])
    assert len(r.events) == 29_999 and not r.skipped
    first = r.events[0]
    assert first.user_id == "266079" and first.item_id == "138778" and first.type == "view"
    assert first.category_id == "8"
    assert [e.ts for e in r.events] == sorted(e.ts for e in r.events)
    assert len({e.event_id for e in r.events}) == len(r.events)


def test_directory_reads_the_three_months(jdata_dir: Path) -> None:
    r = read_clickstream([jdata_dir])
    assert [p.name for p in r.files] == [f"JData_Action_20160{m}.csv.gz" for m in (2, 3, 4)]
    assert sum(e.type == "transaction" for e in r.events) == 200


def test_retailrocket_and_canonical(tmp_path: Path) -> None:
    rr = tmp_path / "rr.csv.gz"
    rr.write_bytes(
        gzip.compress(
            b"timestamp,visitorid,event,itemid,transactionid\n"
            b"1433221332117,257597,view,355908,\n"
            b"1433224214164,992329,transaction,248676,4000\n"
            b"garbage\n"
        )
    )
    r = read_clickstream([rr])
    assert [(e.user_id, e.type) for e in r.events] == [("257597", "view"), ("992329", "transaction")]
    assert r.skipped["malformed_row"] == 1
    can = tmp_path / "c.csv"
    can.write_text(
        "timestamp,user_id,item_id,event_type,category_id\n2016-02-01T00:00:00Z,u,i,addtocart,c9\n"
    )
    (e,) = read_clickstream([can], "canonical").events
    assert (e.ts, e.category_id) == (1454284800000, "c9")


def test_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ClickstreamError, match="no such file"):
        read_clickstream([tmp_path / "missing.csv"])
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b,c\n1,2,3\n")
    with pytest.raises(ClickstreamError, match="unrecognised clickstream header"):
        read_clickstream([bad])
    ok = tmp_path / "ok.csv"
    ok.write_text("timestamp,user_id,item_id,event_type\n1,u,i,view\n")
    with pytest.raises(ClickstreamError, match="does not match format"):
        read_clickstream([ok], "jdata")


TAOBAO = (
    Path(__file__).resolve().parents[4] / "shared" / "data" / "taobao-userbehavior" / "UserBehavior.csv.gz"
)


def _taobao_rows(first: int, last: int) -> list[str]:
    """Rows ``first``..``last`` (1-based) of the shared Taobao file, as they are."""
    with gzip.open(TAOBAO, "rt") as f:
        return [line for k, line in enumerate(f, start=1) if first <= k <= last]


def test_taobao_rows_cut_from_the_shared_file(tmp_path: Path) -> None:
    rows = _taobao_rows(4150, 4200)  # user 1000169's rows, row 4171 of them dated 2017-09-11
    cut = tmp_path / "UserBehavior.csv"
    cut.write_text("".join(rows))
    r = read_clickstream([cut])
    assert r.formats == ["taobao"]
    assert r.skipped == {"out_of_range": 1}  # a real defect of the data: counted, not fatal
    assert len(r.events) == len(rows) - 1
    behaviors = {"pv": "view", "cart": "addtocart", "fav": "favorite", "buy": "transaction"}
    by_id = {e.event_id: e for e in r.events}
    for k, line in enumerate(rows, start=1):
        user, item, cat, behavior, ts = line.strip().split(",")
        e = by_id.get(f"UserBehavior:{k}")
        if int(ts) < 1511539200:
            assert e is None
            continue
        assert (e.user_id, e.item_id, e.category_id, e.type, e.ts) == (
            user,
            item,
            cat,
            behaviors[behavior],
            int(ts) * 1000,
        )
    assert [e.ts for e in r.events] == sorted(e.ts for e in r.events)


def test_the_whole_taobao_file_reads_with_its_35_defects_counted() -> None:
    r = read_clickstream([TAOBAO.parent])
    assert len(r.events) == 84_287 - 35 and r.skipped == {"out_of_range": 35}
    assert sum(e.type == "transaction" for e in r.events) == 1_749
    assert r.day_offset_ms == -8 * 3_600_000  # China time


def test_canonical_reads_optional_columns_by_header_name(tmp_path: Path) -> None:
    can = tmp_path / "shop.csv"
    can.write_text(
        "timestamp,user_id,item_id,event_type,email,brand,price,session_id,category_id,source\n"
        "1454284800000,u1,i1,view,a@b.c,acme,19.5,s1,c7,web\n"
        "1454284801000,u1,i1,remove_from_cart,,,,,,\n"
        "1454284802000,u1,i2,favorite,,,-3,,,\n"  # a negative price: a bad row, skipped
        "1454284803000,u1,i2,click,,,abc,,,\n"  # not a number: malformed
    )
    r = read_clickstream([can])
    assert r.skipped == {"bad_price": 1, "malformed_row": 1}
    first, second = r.events
    assert (first.brand, first.price, first.session_id, first.category_id, first.source) == (
        "acme",
        19.5,
        "s1",
        "c7",
        "web",
    )
    assert "a@b.c" not in repr(first)  # a column we do not know never reaches an event
    assert (second.type, second.price, second.brand, second.source) == (
        "remove_from_cart",
        None,
        None,
        "shop",
    )


def test_jdata_keeps_removals_follows_and_clicks_apart(jdata_dir: Path) -> None:
    r = read_clickstream([jdata_dir])
    types = {e.type for e in r.events}
    assert types == {"view", "click", "addtocart", "remove_from_cart", "favorite", "transaction"}
    assert not r.skipped
