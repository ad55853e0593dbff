from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from stream.readers import ClickstreamError, read_clickstream


def test_jdata_sample_types_and_ids(jdata_dir: Path) -> None:
    r = read_clickstream([jdata_dir / "JData_Action_201602.csv.gz"])
    assert len(r.events) + sum(r.skipped.values()) == 29_999
    assert set(r.skipped) <= {"jdata_remove_from_cart", "jdata_follow"}
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
    rr.write_bytes(gzip.compress(b"timestamp,visitorid,event,itemid,transactionid\n"
                                 b"1433221332117,257597,view,355908,\n"
                                 b"1433224214164,992329,transaction,248676,4000\n"
                                 b"garbage\n"))
    r = read_clickstream([rr])
    assert [(e.user_id, e.type) for e in r.events] == [("257597", "view"), ("992329", "transaction")]
    assert r.skipped["malformed_row"] == 1
    can = tmp_path / "c.csv"
    can.write_text("timestamp,user_id,item_id,event_type,category_id\n"
                   "2016-02-01T00:00:00Z,u,i,addtocart,c9\n")
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
