"""The Dagster UI after a CLI build, tested as a user would see it (issue 13, "The UI").

The session build (`built_warehouse`, which goes through the CLI's build path) is recorded in the
Dagster instance of DAGSTER_HOME; the webserver is started on that instance, asked through its GraphQL
API what its pages show, and the asset graph and the `city_year_panel` page are rendered in headless
Chromium. Screenshots are kept under `test-artifacts/ui/` (gitignored).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "test-artifacts" / "ui"
MAIN_ASSETS = [["raw", "yearbook_indicators"], ["raw", "ceads_city_emissions"], ["raw", "ifr_robots"],
               ["raw", "nightlights"], ["marts", "dim_city"], ["marts", "city_year_panel"],
               ["marts", "treatment_panel"], ["analysis", "seed_004", "table_2"], ["analysis", "seed_002", "table_4"],
               ["reports", "seed_002"]]
QUERY = """
query ($path: [String!]!) {
  assetNodeOrError(assetKey: {path: $path}) {
    __typename
    ... on AssetNode {
      groupName
      description
      assetMaterializations(limit: 1) { runId metadataEntries { label } }
      assetChecksOrError {
        ... on AssetChecks { checks { name blocking executionForLatestMaterialization { status } } }
      }
    }
  }
}"""


def _has_cjk_font() -> bool:
    """Whether fontconfig knows a font with Chinese glyphs (labels are bilingual)."""
    fc = shutil.which("fc-list")
    return bool(fc and subprocess.run([fc, ":lang=zh"], capture_output=True, text=True).stdout.strip())


def chromium() -> str:
    """Debian's chromium (and a CJK font for the Chinese labels), installed with apt-get where missing
    (CI runs as root with Debian's registry reachable)."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    missing = ([] if found else ["chromium"]) + ([] if _has_cjk_font() else ["fonts-noto-cjk"])
    if missing:
        if os.geteuid() != 0:
            raise RuntimeError(f"{' and '.join(missing)} missing and this user cannot apt-get install it; "
                               f"run `sudo apt-get install -y {' '.join(missing)}`")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-q"], check=True, env=env, capture_output=True)
        subprocess.run(["apt-get", "install", "-y", "-q", *missing], check=True, env=env, capture_output=True)
        found = shutil.which("chromium")
    if not found:
        raise RuntimeError("apt-get installed chromium but it is not on PATH")
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _graphql(url: str, query: str, variables: dict) -> dict:
    req = urllib.request.Request(f"{url}/graphql", data=json.dumps({"query": query, "variables": variables}).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as resp:
        body = json.loads(resp.read())
    assert "errors" not in body, body
    return body["data"]


@pytest.fixture(scope="module")
def webserver(built_warehouse: Path, sample_dir: Path, build_dagster_home: Path) -> str:
    """`dagster-webserver` on localhost, on the instance the CLI build recorded into."""
    port = _free_port()
    env = {**os.environ, "CARBONPANEL_WAREHOUSE": str(built_warehouse), "CARBONPANEL_RAW_DIR": str(sample_dir),
           "DAGSTER_HOME": str(build_dagster_home)}
    exe = Path(sys.executable).with_name("dagster-webserver")
    log = (ARTIFACTS.parent / "webserver.log")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with log.open("w") as fh:
        proc = subprocess.Popen([str(exe), "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)], cwd=REPO,
                                env=env, stdout=fh, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240
        while True:
            try:
                with urllib.request.urlopen(f"{url}/server_info", timeout=5):
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"dagster-webserver did not start; see {log}") from None
                time.sleep(1)
        # The code location loads in the background; wait until the asset graph answers.
        while time.monotonic() < deadline:
            data = _graphql(url, QUERY, {"path": ["marts", "city_year_panel"]})
            if data["assetNodeOrError"]["__typename"] == "AssetNode":
                break
            time.sleep(1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_ui_shows_cli_build_materialized_with_checks(webserver: str) -> None:
    """Every main asset shows a materialization from the CLI build, grouped by source/paper, with the
    metadata the issue lists; the panel's checks all passed."""
    for path in MAIN_ASSETS:
        node = _graphql(webserver, QUERY, {"path": path})["assetNodeOrError"]
        assert node["__typename"] == "AssetNode", path
        assert node["assetMaterializations"], f"{'/'.join(path)} shows as never materialized"
        labels = {e["label"] for e in node["assetMaterializations"][0]["metadataEntries"]}
        if path[0] in ("raw", "marts"):
            assert {"dagster/row_count", "dagster/column_schema", "preview"} <= labels, (path, labels)
        assert not node["groupName"].startswith("dbt_"), node["groupName"]
    panel = _graphql(webserver, QUERY, {"path": ["marts", "city_year_panel"]})["assetNodeOrError"]
    assert panel["groupName"] == "panel" and "Raw SQL" not in (panel["description"] or "")
    assert {"coverage_by_year"} <= {e["label"] for e in panel["assetMaterializations"][0]["metadataEntries"]}
    checks = panel["assetChecksOrError"]["checks"]
    assert len(checks) >= 3
    statuses = {c["name"]: (c["executionForLatestMaterialization"] or {}).get("status") for c in checks}
    assert all(s == "SUCCEEDED" for s in statuses.values()), statuses
    assert "gx_city_year_panel" in statuses


def test_ui_pages_render_in_chromium(webserver: str) -> None:
    """Headless Chromium renders the global asset graph and the city_year_panel page; screenshots are kept."""
    browser = chromium()
    shots = {"asset_graph.png": f"{webserver}/asset-groups",
             "city_year_panel.png": f"{webserver}/assets/marts/city_year_panel",
             "city_year_panel_checks.png": f"{webserver}/assets/marts/city_year_panel?view=checks"}
    flags = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars",
             "--window-size=1600,1000", "--virtual-time-budget=20000"]
    dom = ""
    for name, url in shots.items():
        out = ARTIFACTS / name
        out.unlink(missing_ok=True)
        # The panel page's DOM is dumped by the launch that screenshots it: the page (and the webserver's
        # answers to it, about 12 s of CPU) is loaded once, not twice.
        dump = ["--dump-dom"] if name == "city_year_panel.png" else []
        run = subprocess.run([browser, *flags, *dump, f"--screenshot={out}", url], check=True, capture_output=True,
                             text=True, timeout=180)
        dom = run.stdout if dump else dom
        assert out.exists() and out.stat().st_size > 20_000, name   # a blank page is a few kB
    (ARTIFACTS / "city_year_panel.html").write_text(dom, encoding="utf-8")
    assert "city_year_panel" in dom
    assert "Never materialized" not in dom
