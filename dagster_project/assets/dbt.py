"""dbt models (staging → intermediate → marts) and seeds as Dagster assets."""


import os
from collections.abc import Iterator, Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, dbt_assets

from dagster_project.project import dbt_project, ensure_manifest
from dagster_project.resources import Warehouse

ensure_manifest()


class Translator(DagsterDbtTranslator):
    """Keys `<schema>/<model>` (e.g. marts/city_year_panel) and groups by dbt layer."""

    def get_asset_spec(self, manifest: Mapping[str, Any], unique_id: str, project: Any) -> dg.AssetSpec:
        """Attach the layer group (staging, intermediate, marts, ref) to every dbt node."""
        spec = super().get_asset_spec(manifest, unique_id, project)
        node = manifest["nodes"].get(unique_id) or manifest["sources"].get(unique_id) or {}
        if node.get("resource_type") in ("model", "seed"):
            schema = node.get("config", {}).get("schema") or "main"
            return spec.replace_attributes(key=dg.AssetKey([schema, node["name"]]), group_name=f"dbt_{schema}")
        return spec


@dbt_assets(manifest=dbt_project.manifest_path, project=dbt_project, dagster_dbt_translator=Translator())
def carbon_panel_dbt(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: Warehouse) -> Iterator:
    """Run `dbt build` (seeds, models, tests) against the run's warehouse file."""
    # dbt runs as a subprocess with cwd=dbt/; it reads the warehouse path from this absolute env var.
    os.environ["CARBONPANEL_WAREHOUSE"] = warehouse.path
    yield from dbt.cli(["build"], context=context).stream()
