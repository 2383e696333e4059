/* Progress charts shared by the model page and the compare view: one Vega-Lite line chart per group of
   series, with smoothing (an exponential moving average, debiased as TensorBoard does), a log value axis,
   x as step, wall time or time since the line's first point, and zoom: dragging across a chart calls
   onZoom(startStep, endStep) with the dragged range in steps (a time range is mapped to the steps of the
   points inside it), and the page asks the server for that range at full resolution.
   Charts render as SVG with Vega's expression interpreter (the pages' CSP allows no eval); each Vega-Lite
   spec is compiled once and its line marks made lean (see vegaSpecOf). Each chart element carries its
   current Vega-Lite spec as `element.vlSpec` and data-points / data-zoomed / data-rendered. */
(function () {
  'use strict';
  var hasVega = typeof window.vegaEmbed === 'function' && typeof window.vega === 'object';
  var STORAGE_KEY = 'brevettiai.chartOptions';
  var X_AXES = {
    step: {field: 'step', type: 'quantitative', title: 'step'},
    time: {field: 'time', type: 'temporal', title: 'wall time'},
    relative: {field: 'elapsed', type: 'quantitative', title: 'seconds since the first point'}
  };

  function embedOptions(extra) {
    var options = {actions: false, renderer: 'svg', ast: true, logLevel: vega.Error,
                   config: {font: 'system-ui, sans-serif'}};
    if (window.BrevettiVegaExpr) { options.expr = window.BrevettiVegaExpr; }  // vega_expr.js: the same, faster
    Object.keys(extra || {}).forEach(function (key) { options[key] = extra[key]; });
    return options;
  }

  /* Exponential moving average of the values (nulls stay gaps), debiased for the first points. */
  function smooth(rows, weight, log) {
    var last = 0, count = 0;
    rows.forEach(function (row) {
      if (row.value === null || !isFinite(row.value)) { row.smooth = null; row.okSmooth = false; return; }
      count += 1;
      last = last * weight + (1 - weight) * row.value;
      row.smooth = weight > 0 ? last / (1 - Math.pow(weight, count)) : row.value;
      row.okSmooth = !log || row.smooth > 0;
    });
  }

  /* Chart rows of lines [{line, points: [[step, value, time], ...]}]. Each row carries what its line mark
     would otherwise compute per point in Vega's (slow, eval-free) expression interpreter: `ok` (the value is
     drawn, else a gap) and `tip` (its tooltip). */
  function rowsOf(lines, options, title) {
    var rows = [];
    var x = X_AXES[options.x] || X_AXES.step;
    lines.forEach(function (line) {
      var points = line.points.slice().sort(function (a, b) { return a[0] - b[0]; });
      var first = null;
      points.forEach(function (point) { if (first === null && point[2] !== null) { first = point[2]; } });
      var own = points.map(function (point) {
        var time = point[2];
        var value = point[1];
        return {step: point[0], value: value, line: line.line,
                time: time === null || time === undefined ? null : time * 1000,
                elapsed: time === null || time === undefined || first === null ? null : time - first,
                ok: value !== null && isFinite(value) && (!options.log || value > 0)};
      });
      if (options.smoothing > 0) { smooth(own, options.smoothing, options.log); }
      own.forEach(function (row) { row.tip = tipOf(row, x, title || 'value', options.smoothing > 0); });
      Array.prototype.push.apply(rows, own);
    });
    return rows;
  }

  function localTime(milliseconds) {
    var moment = new Date(milliseconds);
    return window.BrevettiTime ? BrevettiTime.localText(moment) : moment.toISOString();
  }

  function tipOf(row, x, title, smoothed) {
    var tip = {};
    var at = row[x.field];
    tip[x.title] = at !== null && x.type === 'temporal' ? localTime(at) : at;
    if (x.field !== 'step') { tip.step = row.step; }
    tip[title] = row.value;
    if (smoothed) { tip.smoothed = row.smooth; }
    tip.line = row.line;
    return tip;
  }

  function specFor(title, options, legend) {
    var x = X_AXES[options.x] || X_AXES.step;
    var yScale = {zero: false, type: options.log ? 'log' : 'linear'};
    var color = {field: 'line', type: 'nominal', title: null,
                 legend: {orient: 'bottom', direction: 'horizontal', columns: legend.columns, labelLimit: legend.labelLimit,
                          symbolLimit: 0}};
    if (legend.domain) { color.scale = {domain: legend.domain, scheme: legend.domain.length > 10 ? 'tableau20' : 'category10'}; }
    var raw = {
      params: [{name: 'brush', select: {type: 'interval', encodings: ['x']}}],
      mark: {type: 'line', interpolate: 'linear', tooltip: !(options.smoothing > 0), opacity: options.smoothing > 0 ? 0.25 : 1},
      encoding: {y: {field: 'value', type: 'quantitative', title: title, scale: yScale}}
    };
    var layers = [raw];
    if (options.smoothing > 0) {
      layers.push({mark: {type: 'line', interpolate: 'linear', tooltip: true},
                   encoding: {y: {field: 'smooth', type: 'quantitative', title: title, scale: yScale}}});
    }
    return {
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
      title: title, width: legend.width, height: 200, autosize: {type: 'fit-x', contains: 'padding'},
      data: {name: 'points', format: {parse: null}},
      encoding: {x: {field: x.field, type: x.type, title: x.title, scale: {zero: false}}, color: color},
      layer: layers
    };
  }

  /* The Vega spec of a progress chart's Vega-Lite spec, compiled once per distinct spec and reused by every
     chart drawn with it. Its line marks are made lean: Vega evaluates each encoding channel of every point
     through the expression interpreter, so the channels that are the same for every point (linear
     interpolation, full opacity) or that the rows already hold (`ok` for gaps, `tip` for the tooltip) are
     not evaluated per point, and the per-point aria descriptions (never read out for a line) are left out. */
  var compiled = {};

  function vegaSpecOf(spec, gaps) {
    var key = JSON.stringify(spec) + (gaps ? '+gaps' : '');
    if (!compiled[key]) {
      var vgSpec = vegaLite.compile(spec).spec;
      leanLines(vgSpec.marks || [], gaps);
      compiled[key] = vgSpec;
    }
    return compiled[key];
  }

  function leanLines(marks, gaps) {
    marks.forEach(function (mark) {
      var update = mark.type === 'line' && mark.encode && mark.encode.update;
      if (update) {
        delete update.description;
        if (update.interpolate && update.interpolate.value === 'linear') { delete update.interpolate; }
        if (update.opacity && update.opacity.value === 1) { delete update.opacity; }
        if (update.tooltip) { update.tooltip = {field: 'tip'}; }
        if (update.defined) {
          var smoothed = update.y && update.y.field === 'smooth';
          if (gaps) { update.defined = {field: smoothed ? 'okSmooth' : 'ok'}; } else { delete update.defined; }
        }
      }
      leanLines(mark.marks || [], gaps);
    });
  }

  /* The steps of the rows whose x value lies in [low, high]. */
  function stepRange(rows, field, low, high) {
    if (field === 'step') { return [Math.ceil(low), Math.floor(high)]; }
    var start = null, end = null;
    rows.forEach(function (row) {
      var x = row[field];
      if (x === null || x < low || x > high) { return; }
      if (start === null || row.step < start) { start = row.step; }
      if (end === null || row.step > end) { end = row.step; }
    });
    return start === null ? null : [start, end];
  }

  /* The chart options form (smoothing, log scale, x axis); remembered in this browser. */
  function Controls(form, onChange) {
    var saved = {};
    try { saved = JSON.parse(window.localStorage.getItem(STORAGE_KEY) || '{}') || {}; } catch (error) { saved = {}; }
    this.form = form;
    if (form) {
      if (typeof saved.smoothing === 'number') { form.elements.smoothing.value = String(saved.smoothing); }
      if (typeof saved.log === 'boolean') { form.elements.log.checked = saved.log; }
      if (X_AXES[saved.x]) { form.elements.x.value = saved.x; }
      var self = this;
      var changed = function () {
        self.showValues();
        try { window.localStorage.setItem(STORAGE_KEY, JSON.stringify(self.values())); } catch (error) { /* private mode */ }
        onChange(self.values());
      };
      form.addEventListener('change', changed);
      form.elements.smoothing.addEventListener('input', function () { self.showValues(); });
      form.addEventListener('submit', function (event) { event.preventDefault(); });
      this.showValues();
    }
  }

  Controls.prototype.values = function () {
    if (!this.form) { return {smoothing: 0, log: false, x: 'step'}; }
    var elements = this.form.elements;
    return {smoothing: Math.min(0.99, Math.max(0, parseFloat(elements.smoothing.value) || 0)),
            log: elements.log.checked, x: X_AXES[elements.x.value] ? elements.x.value : 'step'};
  };

  Controls.prototype.showValues = function () {
    var output = this.form.querySelector('output[name="smoothing-value"]');
    if (output) { output.textContent = Number(this.form.elements.smoothing.value).toFixed(2); }
  };

  /* One chart per group in `container`. options: label(group) for aria, domain (every line, fixed colours),
     onZoom(start, end). */
  function ProgressCharts(container, options) {
    this.container = container;
    this.options = options || {};
    this.settings = {smoothing: 0, log: false, x: 'step'};
    this.charts = {};   // group -> {element, view, pending, lines, zoomed, version, width}
    this.order = [];
    var self = this, timer = null;
    window.addEventListener('resize', function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(function () { self.resized(); }, 250);
    });
  }

  /* The chart's width (measured by show before any chart is drawn: Vega's `width: 'container'` made each
     chart measure the page while the others were being drawn, a layout per chart) and its legend's columns. */
  ProgressCharts.prototype.legend = function (chart) {
    var width = chart.width || this.container.clientWidth || 600;
    var columns = Math.max(1, Math.floor(width / 170));  // each column's labels cut to fit (the full name in a tooltip)
    return {width: width, columns: columns, labelLimit: Math.max(60, Math.min(260, Math.floor(width / columns) - 45)),
            domain: this.options.domain || null};
  };

  /* After the window was resized: charts whose width changed are drawn again at their new width. */
  ProgressCharts.prototype.resized = function () {
    var self = this;
    this.order.forEach(function (group) { self.charts[group].newWidth = self.charts[group].element.clientWidth; });
    this.order.forEach(function (group) {
      var chart = self.charts[group];
      if (chart.newWidth && chart.newWidth !== chart.width) { chart.width = chart.newWidth; self.embed(group); }
    });
  };

  /* Show each group's lines ({group: [{line, points}]}); `zoomed` ('start-end' or '') marks a step range. */
  ProgressCharts.prototype.show = function (groups, zoomed) {
    var self = this;
    Object.keys(groups).forEach(function (group) {
      var chart = self.charts[group];
      if (!chart) {
        var figure = document.createElement('figure');
        figure.className = 'chart-figure';
        var element = document.createElement('div');
        element.className = 'progress-chart';
        element.setAttribute('data-group', group);
        element.setAttribute('role', 'img');
        element.setAttribute('aria-label', (self.options.label || 'Progress chart of ') + group);
        figure.appendChild(element);
        self.container.appendChild(figure);
        chart = self.charts[group] = {element: element, view: null, pending: false, version: 0, zoomed: ''};
        self.order.push(group);
      }
      chart.lines = groups[group];
    });
    Object.keys(groups).forEach(function (group) {  // measured all at once: one layout
      var chart = self.charts[group];
      if (!chart.width) { chart.width = chart.element.clientWidth; }
    });
    Object.keys(groups).forEach(function (group) {
      var chart = self.charts[group];
      var zoom = zoomed || '';
      if (!chart.view || chart.zoomed !== zoom) {
        chart.zoomed = zoom;
        self.embed(group);  // a new view: no brush left over from the drag that zoomed
      } else if (!chart.pending) {
        self.update(group);
      }
    });
  };

  ProgressCharts.prototype.configure = function (settings) {
    var self = this;
    this.settings = settings;
    this.order.forEach(function (group) { self.embed(group); });
  };

  ProgressCharts.prototype.embed = function (group) {
    var self = this, chart = this.charts[group];
    if (!hasVega) { chart.element.textContent = 'Charts need the vendored Vega scripts.'; return; }
    var version = chart.version += 1;
    var spec = specFor(group, this.settings, this.legend(chart));
    chart.pending = true;
    chart.element.vlSpec = spec;
    chart.element.setAttribute('data-rendered', 'false');
    // The rows go in with the spec: one render, not an empty one and then the data.
    var rows = chart.rows = rowsOf(chart.lines || [], this.settings, group);
    var gaps = rows.some(function (row) { return !row.ok || row.okSmooth === false; });
    var compiledSpec = vegaSpecOf(spec, gaps);
    var withRows = Object.assign({}, compiledSpec, {data: compiledSpec.data.map(function (data) {
      return data.name === 'points' ? Object.assign({}, data, {values: rows}) : data;  // numbers already
    })});
    chart.gaps = gaps;
    vegaEmbed(chart.element, withRows, embedOptions({mode: 'vega'})).then(function (result) {
      if (version !== chart.version) { result.finalize(); return; }
      if (chart.result) { chart.result.finalize(); }
      chart.result = result;
      chart.view = result.view;
      chart.pending = false;
      self.listen(group);
      self.drawn(group, rows);
    }).catch(function (error) {
      chart.element.setAttribute('data-rendered', 'error');
      chart.element.textContent = 'The chart could not be drawn: ' + error.message;
    });
  };

  ProgressCharts.prototype.update = function (group) {
    var self = this, chart = this.charts[group];
    var rows = rowsOf(chart.lines || [], this.settings, group);
    var gaps = rows.some(function (row) { return !row.ok || row.okSmooth === false; });
    if (gaps && !chart.gaps) { this.embed(group); return; }  // its spec draws no gaps yet
    chart.rows = rows;
    chart.view.data('points', rows).runAsync().then(function () { self.drawn(group, rows); });
  };

  ProgressCharts.prototype.drawn = function (group, rows) {
    var chart = this.charts[group];
    chart.element.setAttribute('data-points', String(rows.length));
    chart.element.setAttribute('data-zoomed', chart.zoomed);
    chart.element.setAttribute('data-rendered', 'true');
    if (window.performance && performance.mark) { performance.mark('chart drawn: ' + group); }
  };

  ProgressCharts.prototype.listen = function (group) {
    var self = this, chart = this.charts[group], timer = null;
    var field = (X_AXES[this.settings.x] || X_AXES.step).field;
    chart.view.addSignalListener('brush', function (name, value) {
      var range = value && value[field];
      window.clearTimeout(timer);
      if (!range || range.length !== 2 || !self.options.onZoom) { return; }
      var low = Math.min(+range[0], +range[1]), high = Math.max(+range[0], +range[1]);
      timer = window.setTimeout(function () {  // once the drag settled
        var steps = stepRange(chart.rows || [], field, low, high);
        if (steps && steps[1] >= steps[0]) { self.options.onZoom(steps[0], steps[1]); }
      }, 600);
    });
  };

  /* Fetch JSON from the platform's pages (login cookie); a lost session goes to the login page.
     `preloaded`: a request the page preloads (a fetch matching it in mode and cache takes its answer). */
  function fetchJson(url, options) {
    var init = {credentials: 'same-origin', cache: 'no-store'};
    if (options && options.preloaded) { init = {credentials: 'same-origin'}; }  // the page's <link rel=preload>
    return fetch(url, init)
      .then(function (response) {
        if (response.status === 401) {
          window.location.href = '/login?next=' + encodeURIComponent(window.location.pathname + window.location.search);
          throw new Error('logged out');
        }
        if (!response.ok) {
          return response.json().catch(function () { return {}; }).then(function (body) {
            throw new Error(body.detail || ('HTTP ' + response.status));
          });
        }
        return response.json();
      });
  }

  function refreshParts(url) {
    // Fetch the page the server draws at `url` and swap in its parts marked data-refresh (the rest of this
    // page stays as it is: no reload); resolves to the fetched document.
    return fetch(url, {credentials: 'same-origin', cache: 'no-store', headers: {Accept: 'text/html'}})
      .then(function (response) {
        if (!response.ok) { throw new Error('HTTP ' + response.status); }
        return response.text();
      })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, 'text/html');
        Array.prototype.forEach.call(document.querySelectorAll('[data-refresh]'), function (part) {
          var replacement = fresh.querySelector('[data-refresh="' + part.getAttribute('data-refresh') + '"]');
          if (replacement) {
            part.replaceWith(document.adoptNode(replacement));
            if (window.BrevettiTime) { BrevettiTime.localise(replacement); }
          }
        });
        return fresh;
      });
  }

  window.BrevettiCharts = {Controls: Controls, ProgressCharts: ProgressCharts, embedOptions: embedOptions,
                           fetchJson: fetchJson, hasVega: hasVega, rowsOf: rowsOf, refreshParts: refreshParts};
}());
