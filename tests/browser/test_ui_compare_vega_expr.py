"""vega_expr.js, the charts' faster stand-in for vega-embed's expression interpreter, draws exactly what the
interpreter draws: the same specs rendered with each give the same SVG, for the compare view's own Vega specs
(a progress chart with smoothing, gaps and a time axis; the parallel coordinates) and a Vega-Lite spec that
uses every kind of expression (builtins, Vega's functions, conditions, objects, arrays). The compare page
loads Vega alone; the test adds Vega-Lite and vega-embed (the interpreter) to it."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest
from ui_helpers import Platform

pytestmark = pytest.mark.browser

EVERY_KIND = {
    "$schema": "https://vega.github.io/schema/vega-lite/v6.json",
    "data": {"values": [{"a": i, "b": (i * 7) % 5 - 2, "c": f"name {i}", "t": 1.7e12 + i * 3.6e6} for i in range(12)]},
    "transform": [
        {"calculate": "datum.a % 2 === 0 ? upper(datum.c) : lower(datum.c) + '!'", "as": "label"},
        {"calculate": "clamp(abs(datum.b) * PI, 0, 5) + pow(2, 3) - sqrt(16) + (isFinite(datum.b) ? 1 : 0)", "as": "y"},
        {"calculate": "[datum.a, datum.b][datum.a > 5 ? 1 : 0] + length(datum.c) + indexof(datum.c, 'e')", "as": "z"},
        {"calculate": "{'k': datum.a, 'v': format(datum.b, '.2f')}.v + ' ' + timeFormat(datum.t, '%H:%M')", "as": "text"},
        {"filter": "datum.a !== 3 && (datum.b >= -1 || datum.a < 2) && !(datum.a == 11)"},
    ],
    "params": [{"name": "pick", "select": {"type": "interval", "encodings": ["x"]}}],
    "mark": {"type": "point", "tooltip": True},
    "encoding": {"x": {"field": "a", "type": "quantitative"}, "y": {"field": "y", "type": "quantitative"},
                 "size": {"field": "z", "type": "quantitative"}, "color": {"field": "label", "type": "nominal"},
                 "shape": {"condition": {"test": "datum.b > 0", "value": "square"}, "value": "circle"}},
}

SAME_SVG = r"""async (specs) => {
  const render = async (spec, expr) => {
    const element = document.createElement('div');
    element.style.width = '500px';
    document.body.appendChild(element);
    const result = await vegaEmbed(element, spec, {actions: false, renderer: 'svg', ast: true, expr: expr});
    const svg = (await result.view.toSVG()).replace(/(clip|gradient)_?\d+/g, '$1N');  // page-wide counters
    result.finalize();
    element.remove();
    return svg;
  };
  const answers = [];
  for (const spec of specs) {
    answers.push([await render(spec, undefined), await render(spec, window.BrevettiVegaExpr)]);
  }
  return answers;
}"""


def test_the_fast_expressions_draw_what_the_interpreter_draws(logged_in: Any, ui_server: Platform) -> None:
    page = logged_in
    runs = []
    for index in range(2):
        model = ui_server.create_model(f"expr-{uuid.uuid4().hex[:6]}", settings={"training": {"epochs": 3 + index}})
        with httpx.Client(base_url=ui_server.url, headers={"Authorization": f"Bearer {model['apiKey']}"}) as job:
            job.post(f"/api/jobs/{model['id']}/metrics", json={"batchId": "1", "points": [
                {"step": s, "time": 1.7e9 + s, "values": {"loss": 1 / (1 + s + index)}} for s in range(50)]}).raise_for_status()
            job.put(f"/api/files/{model['id']}/artifacts/output.json",
                    content=json.dumps({"output": {"accuracy": 0.5 + index / 10}})).raise_for_status()
        runs.append(model)
    page.goto(f"{ui_server.url}/compare?ids={runs[0]['id']},{runs[1]['id']}")
    page.wait_for_function("() => document.querySelector('.progress-chart')?.dataset.rendered === 'true'"
                           " && document.querySelector('#parallel-chart').dataset.rendered === 'true'")
    for script in ("vega-lite.min.js", "vega-embed.min.js"):
        page.add_script_tag(url=f"{ui_server.url}/ui/static/vendor/{script}")
    progress = page.evaluate("""() => {
        const options = {smoothing: 0.5, log: false, x: 'time'};
        const rows = BrevettiCharts.rowsOf([{line: 'a', points: [[0, 1, 1.7e9], [1, 0.5, 1.7e9 + 1], [2, null, null],
                                                                [3, 0.2, 1.7e9 + 3]]}], options, 'loss');
        const spec = BrevettiCharts.progressSpec(options, {width: 500, columns: 2, labelLimit: 100, domain: null}, true);
        const domains = BrevettiCharts.domainsOf(rows, options);
        domains.chartTitle = 'loss';
        spec.signals.forEach(signal => { if (domains[signal.name]) { signal.value = domains[signal.name]; } });
        spec.data = [{name: 'points', values: rows}];
        return spec;
    }""")
    parallel = page.evaluate("""() => {
        const chart = document.querySelector('#parallel-chart');
        return Object.assign({}, chart.vegaSpec, {data: chart.vegaSpec.data.map(
            data => Object.assign({}, data, {values: chart.vegaData[data.name]}))});
    }""")
    answers = page.evaluate(SAME_SVG, [progress, parallel, EVERY_KIND])
    for (interpreted, fast), name in zip(answers, ["progress", "parallel", "every kind"], strict=True):
        assert "<path" in interpreted or "<circle" in interpreted or "d=" in interpreted, name
        assert fast == interpreted, name
