"""ECharts options, built in Python: one function per chart kind. A page hands the option to the
browser with ``json_script``; ``static/js/charts.js`` mounts it. Only the chart kinds and components of
the custom build (``frontend/echarts.js``) may appear here.

Every option carries ``aria`` text of its own (``label``), since a canvas says nothing to a screen
reader, and may carry ``unit`` (a currency code or "%"): charts.js formats tooltip values with it.
Colours are the palette of ``static/css/app.css``, chosen for contrast on white.
"""

from collections.abc import Sequence
from dataclasses import dataclass

PALETTE = ["#1f4e79", "#d9730d", "#2e7d32", "#8e24aa", "#c62828", "#00838f", "#6d4c41", "#546e7a"]
_TOOLTIP_AXIS = {"trigger": "axis", "confine": True}
LABEL_ROOM_PX = 120
# A heatmap's stripes behind its cells: grey, so that an empty cell (not over yet) does not read as the
# scale's lowest value.
_NEUTRAL_STRIPES = {"show": True, "areaStyle": {"color": ["#ffffff", "#f4f5f7"]}}


@dataclass(frozen=True)
class Chart:
    """A chart for a template: the element's accessible label, and the option for ECharts."""

    label: str
    option: dict


def _axis_option(*, categories: Sequence[str], unit: str, legend: bool) -> dict:
    return {
        "color": PALETTE,
        "unit": unit,
        "grid": {"left": 8, "right": 16, "top": 40 if legend else 16, "bottom": 8, "containLabel": True},
        "tooltip": _TOOLTIP_AXIS,
        "legend": {"show": legend, "type": "scroll", "top": 0},
        "xAxis": {"type": "category", "data": list(categories)},
        "yAxis": {"type": "value", "minInterval": 1 if unit == "" else 0},
    }


def line_chart(*, label: str, categories: Sequence[str], series: dict[str, Sequence[float]], unit: str = "") -> Chart:
    """One line per series over the categories (days, usually)."""
    option = _axis_option(categories=categories, unit=unit, legend=len(series) > 1)
    option["series"] = [
        {"name": name, "type": "line", "data": list(values), "showSymbol": len(categories) <= 31}
        for name, values in series.items()
    ]
    return Chart(label=label, option=option)


def bar_chart(
    *,
    label: str,
    categories: Sequence[str],
    series: dict[str, Sequence[float]],
    unit: str = "",
    horizontal: bool = False,
    stacked: bool = False,
    every_label: bool = False,
    labels: Sequence[str] | None = None,
) -> Chart:
    """Bars per category, one colour per series; ``horizontal`` for long names (sources, campaigns);
    ``every_label`` names every category, slanted (a histogram's buckets), instead of every other. A
    stack has a legend even of one series: its colour stands for a part (a reason, say). ``labels``:
    a text written at the end of each bar (one series only)."""
    option = _axis_option(categories=categories, unit=unit, legend=len(series) > 1 or stacked)
    if every_label:
        option["xAxis"]["axisLabel"] = {"interval": 0, "rotate": 30}
    if horizontal:
        option["xAxis"], option["yAxis"] = option["yAxis"], {**option["xAxis"], "inverse": True}
        option["tooltip"] = {**_TOOLTIP_AXIS, "axisPointer": {"type": "shadow"}}
    option["series"] = [
        {"name": name, "type": "bar", "data": list(values), **({"stack": "total"} if stacked else {})}
        for name, values in series.items()
    ]
    if labels is not None:
        (only,) = option["series"]
        at_end = {"show": True, "position": "right" if horizontal else "top"}
        only["data"] = [
            {"value": value, "label": {**at_end, "formatter": text}}
            for value, text in zip(only["data"], labels, strict=True)
        ]
        if horizontal:
            option["grid"]["right"] = LABEL_ROOM_PX  # the longest bar's text is drawn past its end
    return Chart(label=label, option=option)


def heatmap_chart(
    *, label: str, rows: Sequence[str], columns: Sequence[str], values: Sequence[Sequence[float | None]], unit: str = ""
) -> Chart:
    """A grid of values (retention: cohorts down, days since install across); None leaves a cell empty."""
    cells = [
        [column, row, value]
        for row, row_values in enumerate(values)
        for column, value in enumerate(row_values)
        if value is not None
    ]
    present = [cell[2] for cell in cells]
    return Chart(
        label=label,
        option={
            "unit": unit,
            # Room below the day labels for the scale, whose handles carry their values above them.
            "grid": {"left": 8, "right": 16, "top": 8, "bottom": 84, "containLabel": True},
            "tooltip": {"position": "top", "confine": True},
            "xAxis": {"type": "category", "data": list(columns), "splitArea": _NEUTRAL_STRIPES},
            "yAxis": {
                "type": "category",
                "data": list(rows),
                "inverse": True,
                "splitArea": _NEUTRAL_STRIPES,
                "axisLabel": {"lineHeight": 16},  # a row name may have two lines (a cohort and its source)
            },
            "visualMap": {
                "min": min(present, default=0),
                "max": max(present, default=1),
                "calculable": True,
                "orient": "horizontal",
                "left": "center",
                "bottom": 0,
                "inRange": {"color": ["#e8f0f8", PALETTE[0]]},
            },
            "series": [{"type": "heatmap", "data": cells, "label": {"show": len(cells) <= 120}}],
        },
    )
