/*
 * The leader's dashboard charts (Apache ECharts, vendored under static/vendor/echarts).
 *
 * No inline script (the Content-Security-Policy allows scripts from 'self' only): the
 * page holds its figures in <script type="application/json" id="dashboard-charts">
 * (Django's json_script) and an empty <div data-chart="name"> per chart; this file
 * draws them. The canvas renderer keeps ECharts within the policy (no inline styles in
 * markup). Charts follow the width of their card, so they read on a phone, and a table
 * of the same figures sits under each chart for screen readers and for printing.
 */
(function () {
  "use strict";

  var BRAND = ["#a31f34", "#1d4f91", "#1f7a45", "#8a5a00", "#6b7280", "#7d1526", "#3b82f6", "#b45309"];

  function readData() {
    var holder = document.getElementById("dashboard-charts");
    if (!holder) {
      return null;
    }
    try {
      return JSON.parse(holder.textContent);
    } catch (error) {
      return null;
    }
  }

  function narrow() {
    return window.matchMedia && window.matchMedia("(max-width: 600px)").matches;
  }

  function trendOption(data) {
    return {
      color: BRAND,
      aria: { enabled: true },
      tooltip: { trigger: "axis" },
      legend: { top: 0 },
      grid: { left: 8, right: 16, top: 36, bottom: 8, containLabel: true },
      xAxis: { type: "category", data: data.months, axisLabel: { hideOverlap: true } },
      yAxis: { type: "value", minInterval: 1 },
      series: data.series.map(function (serie) {
        return { name: serie.name, type: "line", smooth: true, symbolSize: 6, data: serie.values };
      })
    };
  }

  function barOption(data) {
    // Horizontal bars: long Chinese labels stay readable on a narrow screen.
    var labels = data.labels.slice().reverse();
    var values = data.values.slice().reverse();
    return {
      color: BRAND,
      aria: { enabled: true },
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      grid: { left: 8, right: 24, top: 8, bottom: 8, containLabel: true },
      xAxis: { type: "value", minInterval: 1 },
      yAxis: { type: "category", data: labels, axisLabel: { width: narrow() ? 96 : 160, overflow: "truncate" } },
      series: [{ type: "bar", data: values, barMaxWidth: 22, label: { show: true, position: "right" } }]
    };
  }

  function pieOption(data) {
    return {
      color: BRAND,
      aria: { enabled: true },
      tooltip: { trigger: "item" },
      legend: { type: "scroll", bottom: 0 },
      series: [{
        type: "pie",
        radius: narrow() ? ["30%", "60%"] : ["35%", "65%"],
        center: ["50%", "45%"],
        label: { show: !narrow(), formatter: "{b}: {c}" },
        data: data.labels.map(function (label, index) {
          return { name: label, value: data.values[index] };
        })
      }]
    };
  }

  var OPTIONS = { trend: trendOption, category: barOption, region: barOption, channel: pieOption, status: barOption };

  function draw() {
    var data = readData();
    if (!data || typeof window.echarts === "undefined") {
      return;
    }
    var charts = [];
    document.querySelectorAll("[data-chart]").forEach(function (element) {
      var name = element.getAttribute("data-chart");
      var build = OPTIONS[name];
      if (!build || !data[name]) {
        return;
      }
      var chart = window.echarts.init(element, null, { renderer: "canvas" });
      chart.setOption(build(data[name]));
      charts.push(chart);
    });
    var pending = null;
    function resize() {
      if (pending) {
        window.clearTimeout(pending);
      }
      pending = window.setTimeout(function () {
        charts.forEach(function (chart) {
          chart.resize();
        });
      }, 100);
    }
    window.addEventListener("resize", resize);
    window.addEventListener("orientationchange", resize);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
