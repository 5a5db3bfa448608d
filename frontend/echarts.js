// The only parts of Apache ECharts the pages use: every chart kind and component a page's options
// (dashboard/charts.py) may name. Anything else left out keeps the file small; a page option naming a
// part not registered here makes ECharts log an error, which the browser tests catch.
import * as echarts from "echarts/core";
import { BarChart, HeatmapChart, LineChart } from "echarts/charts";
import {
  GridComponent,
  LegendComponent,
  TooltipComponent,
  VisualMapComponent,
} from "echarts/components";
import { CanvasRenderer } from "echarts/renderers";

echarts.use([
  LineChart,
  BarChart,
  HeatmapChart,
  GridComponent,
  TooltipComponent,
  LegendComponent,
  VisualMapComponent,
  CanvasRenderer,
]);

window.echarts = echarts;
