"""Build the province and city reference seeds from the `cpca` package's adcode table.

Run once when the source changes; the outputs are committed under `dbt/seeds/reference/`:

    .venv/bin/python scripts/build_city_seeds.py

Source: cpca 0.5.5 (PyPI, MIT), `cpca/resources/adcodes.csv`: GB/T 2260 administrative codes with
names and seat coordinates (GCJ-02-ish lon/lat from the AMap district API, as shipped by cpca).
The snapshot predates the 2019 merger of 莱芜 into 济南, so 莱芜市 (371200) is still present; the
administrative-change crosswalk (issue 3) handles validity periods.
"""

from __future__ import annotations

import csv
from importlib import resources
from pathlib import Path

from pypinyin import lazy_pinyin

OUT = Path(__file__).resolve().parents[1] / "dbt" / "seeds" / "reference"
SOURCE = "cpca 0.5.5 resources/adcodes.csv (GB/T 2260 codes, AMap seat coordinates)"

# Province short names, English names as CEADs spells them in sheet names, and the NBS
# four-region division (国家统计局 东中西和东北地区划分方法, 2011).
PROVINCES: dict[str, tuple[str, str, str]] = {
    "11": ("北京", "Beijing", "east"),
    "12": ("天津", "Tianjin", "east"),
    "13": ("河北", "Hebei", "east"),
    "14": ("山西", "Shanxi", "central"),
    "15": ("内蒙古", "InnerMongolia", "west"),
    "21": ("辽宁", "Liaoning", "northeast"),
    "22": ("吉林", "Jilin", "northeast"),
    "23": ("黑龙江", "Heilongjiang", "northeast"),
    "31": ("上海", "Shanghai", "east"),
    "32": ("江苏", "Jiangsu", "east"),
    "33": ("浙江", "Zhejiang", "east"),
    "34": ("安徽", "Anhui", "central"),
    "35": ("福建", "Fujian", "east"),
    "36": ("江西", "Jiangxi", "central"),
    "37": ("山东", "Shandong", "east"),
    "41": ("河南", "Henan", "central"),
    "42": ("湖北", "Hubei", "central"),
    "43": ("湖南", "Hunan", "central"),
    "44": ("广东", "Guangdong", "east"),
    "45": ("广西", "Guangxi", "west"),
    "46": ("海南", "Hainan", "east"),
    "50": ("重庆", "Chongqing", "west"),
    "51": ("四川", "Sichuan", "west"),
    "52": ("贵州", "Guizhou", "west"),
    "53": ("云南", "Yunnan", "west"),
    "54": ("西藏", "Tibet", "west"),
    "61": ("陕西", "Shaanxi", "west"),
    "62": ("甘肃", "Gansu", "west"),
    "63": ("青海", "Qinghai", "west"),
    "64": ("宁夏", "Ningxia", "west"),
    "65": ("新疆", "Xinjiang", "west"),
}
MUNICIPALITIES = {"11", "12", "31", "50"}
# Changes after the cpca snapshot that renumber a unit (dbt/seeds/crosswalk/admin_changes.csv):
# 那曲地区 542400 became 那曲市 540600 in 2018 (seat unchanged). 莱芜 (merged into 济南 in 2019) is kept as
# its own unit because the panel years are mostly before the merger.
POST_SNAPSHOT_RENUMBERING = {"542400": ("540600", "那曲市")}
NOT_A_CITY = {"市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划"}
SUFFIXES = ("土家族苗族自治州", "布依族苗族自治州", "苗族侗族自治州", "哈尼族彝族自治州", "壮族苗族自治州",
            "傣族景颇族自治州", "蒙古族藏族自治州", "朝鲜族自治州", "傈僳族自治州", "白族自治州", "傣族自治州",
            "彝族自治州", "藏族羌族自治州", "藏族自治州", "回族自治州", "哈萨克自治州", "柯尔克孜自治州",
            "蒙古自治州", "地区", "自治州", "市", "盟")


# pypinyin picks the wrong reading of these heteronyms in place names.
PINYIN_OVERRIDES = {"长治": "Changzhi", "朝阳": "Chaoyang", "漯河": "Luohe", "锡林郭勒": "Xilinguole",
                    "昌都": "Changdu", "长春": "Changchun", "长沙": "Changsha", "重庆": "Chongqing",
                    "蚌埠": "Bengbu", "六安": "Lu'an", "丽水": "Lishui", "番禺": "Panyu", "乐山": "Leshan",
                    "东莞": "Dongguan", "莆田": "Putian", "大理": "Dali", "厦门": "Xiamen"}


def short_name(name: str) -> str:
    """Strip the administrative suffix: 安庆市 → 安庆, 锡林郭勒盟 → 锡林郭勒, 黔南布依族苗族自治州 → 黔南."""
    for suffix in SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


def level_of(code: str, name: str) -> str:
    """Classify a prefecture-level unit by its name suffix."""
    if code[:2] in MUNICIPALITIES:
        return "municipality"
    if name.endswith("自治州"):
        return "autonomous_prefecture"
    if name.endswith("地区"):
        return "prefecture"
    if name.endswith("盟"):
        return "league"
    return "prefecture_city"


def main() -> None:
    """Write reference/provinces.csv and reference/cities.csv."""
    text = resources.files("cpca").joinpath("resources/adcodes.csv").read_text(encoding="utf-8")
    rows = list(csv.DictReader(text.splitlines()))
    by_code = {r["adcode"][:6]: r for r in rows}
    OUT.mkdir(parents=True, exist_ok=True)

    with (OUT / "provinces.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["province_code", "province_cn", "province_short", "province_en", "region", "source"])
        for p2, (short, en, region) in PROVINCES.items():
            w.writerow([f"{p2}0000", by_code[f"{p2}0000"]["name"], short, en, region, SOURCE])

    cities = []
    for r in rows:
        code, name = r["adcode"][:6], r["name"]
        p2 = code[:2]
        if p2 not in PROVINCES or p2 in MUNICIPALITIES or code.endswith("0000"):
            continue
        if not code.endswith("00") or name in NOT_A_CITY:
            continue
        code, name = POST_SNAPSHOT_RENUMBERING.get(code, (code, name))
        cities.append((code, name, r["longitude"], r["latitude"]))
    for p2 in MUNICIPALITIES:
        r = by_code[f"{p2}0000"]
        cities.append((f"{p2}0000", r["name"], r["longitude"], r["latitude"]))
    cities.sort()

    with (OUT / "cities.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["city_code", "city_cn", "city_short", "city_en", "province_code", "level",
                    "seat_lon", "seat_lat", "source"])
        for code, name, lon, lat in cities:
            short = short_name(name)
            en = PINYIN_OVERRIDES.get(short) or "".join(lazy_pinyin(short)).capitalize()
            w.writerow([code, name, short, en, f"{code[:2]}0000", level_of(code, name),
                        f"{float(lon):.6f}", f"{float(lat):.6f}", SOURCE])
    print(f"wrote {len(PROVINCES)} provinces and {len(cities)} cities to {OUT}")


if __name__ == "__main__":
    main()
