#!/usr/bin/env python3
"""Regenerate fuzz/seeds/ from the ssmix2 test fixtures (run from the repository root or fuzz/).

parse_message seeds: fixtures re-encoded as ISO-2022-JP with CR segment terminators (as
SS-MIX2 storages hold them), plus one kept as UTF-8/LF and one as Shift_JIS (cp932)/CRLF.
storage_path seeds: standard and extended storage paths, and a bare content-folder name.
"""
import pathlib

root = pathlib.Path(__file__).resolve().parent
fixtures = root.parent / "crates" / "ssmix2" / "tests" / "fixtures"
pm = root / "seeds" / "parse_message"
sp = root / "seeds" / "storage_path"
pm.mkdir(parents=True, exist_ok=True)
sp.mkdir(parents=True, exist_ok=True)

for kind in ["ADT-00", "ADT-22", "ADT-61", "PPR-01", "OMP-01", "OMP-11", "OML-11", "OMG-13"]:
    text = (fixtures / f"{kind}.hl7").read_text(encoding="utf-8").replace("\r\n", "\n")
    # Python maps JIS 0x215D to U+2212; the fixtures use U+FF0D (the WHATWG/encoding_rs reading).
    er7 = text.replace("\n", "\r").replace("\uff0d", "\u2212")
    (pm / f"{kind}.iso2022jp.hl7").write_bytes(er7.encode("iso2022_jp"))
(pm / "OMD.utf8-lf.hl7").write_bytes((fixtures / "OMD.hl7").read_bytes())
omg = (fixtures / "OMG-01.hl7").read_text(encoding="utf-8").replace("\r\n", "\n")
(pm / "OMG-01.sjis-crlf.hl7").write_bytes(omg.replace("\n", "\r\n").encode("cp932"))

paths = {
    "standard": "999/901/9999013/20111220/OML-11/9999013_20111220_OML-11_000000011000354_20111220103059000_01_1",
    "undated": "123/456/123456789/-/ADT-00/123456789_-_ADT-00_999999999999999_20240101120000000_-_2",
    "extended": "999/901/9999013/20111220/L-OBSERVATIONS^OBSERVATIONS^99ZL01/"
    "9999013_20111220_L-OBSERVATIONS^OBSERVATIONS^99ZL01_KEY0001_20111220103059000_01_1/main_document.hl7",
    "content": "9999013_20111220_18842-5^退院時サマリー^LN_KEY_20111220103059000_0",
}
# Regression inputs (kept, not regenerated): regression-*.hl7
for name, text in paths.items():
    (sp / name).write_text(text, encoding="utf-8")
