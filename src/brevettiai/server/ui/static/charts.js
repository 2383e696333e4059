/* Progress charts shared by the model page and the compare view: one Vega line chart per group of series,
   with smoothing (an exponential moving average, debiased as TensorBoard does), a log value axis, x as
   step, wall time or time since the line's first point, and zoom: dragging across a chart calls
   onZoom(startStep, endStep) with the dragged range in steps (a time range is mapped to the steps of the
   points inside it), and the page asks the server for that range at full resolution.
   The Vega specs are written here directly (no Vega-Lite compiler, no vega-embed: only vega.min.js is
   parsed by the page) and render as SVG with vega_expr.js evaluating expressions (the pages' CSP allows
   no eval). Each chart element carries the Vega spec it was drawn with as `element.vegaSpec` (its data
   apart) and data-points / data-zoomed / data-rendered. */
(function () {
  'use strict';
  var hasVega = typeof window.vega === 'object' && typeof window.vega.View === 'function';
  var STORAGE_KEY = 'brevettiai.chartOptions';
  var X_AXES = {
    step: {field: 'step', type: 'quantitative', title: 'step'},
    time: {field: 'time', type: 'temporal', title: 'wall time'},
    relative: {field: 'elapsed', type: 'quantitative', title: 'seconds since the first point'}
  };
  var CONFIG = {font: 'system-ui, sans-serif'};

  // Drawing a Vega spec ------------------------------------------------------------------------------------
  var runtimes = {};  // a spec's JSON -> its parsed dataflow, parsed once and shared by every view of it

  function runtimeOf(spec) {
    var key = JSON.stringify(spec);
    if (!runtimes[key]) { runtimes[key] = vega.parse(spec, CONFIG, {ast: true}); }
    return runtimes[key];
  }

  /* Draw `spec` with `data` ({name: rows}) and `signals` ({name: value}) into `element`: the new drawing
     replaces the old one only once it is complete. Resolves to the view. `tips` ({mark name: function}) makes
     the tooltip of those marks' items from their tooltip value when shown (not for every point drawn).
     `sizeFirst`: the view is sized (autosize fit-x) before the data goes in, so each point is encoded once,
     not once before Vega fits the chart to its width and again after; only for specs whose axes, legends and
     titles do not depend on the data (the scales' domains and the legend's entries given as signals or in
     the spec). */
  function render(element, spec, data, signals, tips, sizeFirst) {
    var holder = document.createElement('div');
    holder.className = 'chart-view';
    var tooltip = !tips ? showTooltip : function (handler, event, item, value) {
      var tip = item && item.mark && tips[item.mark.name];
      showTooltip(handler, event, item, tip && value ? tip(value) : value);
    };
    var view = new vega.View(runtimeOf(spec), {renderer: 'svg', logLevel: vega.Error, tooltip: tooltip,
                                               expr: window.BrevettiVegaExpr});
    Object.keys(signals || {}).forEach(function (name) { view.signal(name, signals[name]); });
    var fill = function () { Object.keys(data || {}).forEach(function (name) { view.data(name, data[name]); }); };
    if (!sizeFirst) { fill(); }
    view.initialize(holder);
    var drawn = !sizeFirst ? view.runAsync() : view.runAsync().then(function () { fill(); return view.runAsync(); });
    return drawn.then(function () {
      element.textContent = '';
      element.appendChild(holder);
      return view;
    }, function (error) { view.finalize(); throw error; });
  }

  // Tooltips: one box for the page, filled with text (never HTML) ----------------------------------------
  var tooltipBox = null;

  function shown(value) {
    if (typeof value === 'number' && isFinite(value) && !Number.isInteger(value)) { return String(+value.toPrecision(6)); }
    return value === null || value === undefined ? '—' : String(value);
  }

  function showTooltip(handler, event, item, value) {
    if (!tooltipBox) {
      tooltipBox = document.createElement('div');
      tooltipBox.className = 'chart-tooltip';
      tooltipBox.setAttribute('role', 'tooltip');
      document.body.appendChild(tooltipBox);
    }
    if (value === null || value === undefined || value === '' || !event) { tooltipBox.hidden = true; return; }
    tooltipBox.textContent = '';
    if (typeof value === 'object') {
      Object.keys(value).forEach(function (key) {
        var line = document.createElement('div');
        var name = document.createElement('b');
        name.textContent = key + ': ';
        line.appendChild(name);
        line.appendChild(document.createTextNode(shown(value[key])));
        tooltipBox.appendChild(line);
      });
    } else {
      tooltipBox.textContent = shown(value);
    }
    tooltipBox.hidden = false;
    var x = event.clientX + 14, y = event.clientY + 14;
    var width = tooltipBox.offsetWidth, height = tooltipBox.offsetHeight;
    if (x + width > window.innerWidth) { x = Math.max(0, event.clientX - width - 14); }
    if (y + height > window.innerHeight) { y = Math.max(0, event.clientY - height - 14); }
    tooltipBox.style.left = (x + window.scrollX) + 'px';
    tooltipBox.style.top = (y + window.scrollY) + 'px';
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

  /* Chart rows of lines [{line, points: [[step, value, time], ...]}]. Each row carries what the line marks
     would otherwise compute per point in Vega's expressions: `ok` (drawn, else a gap). Its tooltip is made
     when shown (tipsOf). */
  function rowsOf(lines, options, title) {
    var rows = [];
    var x = X_AXES[options.x] || X_AXES.step;
    lines.forEach(function (line) {
      var points = line.points.slice().sort(function (a, b) { return a[0] - b[0]; });
      var first = null;
      points.forEach(function (point) { if (first === null && point[2] !== null && point[2] !== undefined) { first = point[2]; } });
      var own = points.map(function (point) {
        var time = point[2];
        var value = point[1];
        var row = {step: point[0], value: value, line: line.line,
                   time: time === null || time === undefined ? null : time * 1000,
                   elapsed: time === null || time === undefined || first === null ? null : time - first};
        row.okX = row[x.field] !== null;
        row.ok = row.okX && value !== null && isFinite(value) && (!options.log || value > 0);
        return row;
      });
      if (options.smoothing > 0) { smooth(own, options.smoothing, options.log); }
      Array.prototype.push.apply(rows, own);
    });
    return rows;
  }

  function localTime(milliseconds) {
    var moment = new Date(milliseconds);
    return window.BrevettiTime ? BrevettiTime.localText(moment) : moment.toISOString();
  }

  /* The tooltips of a progress chart's lines (render's `tips`): a point's x, step, value, smoothed value, line. */
  function tipsOf(options, title) {
    var x = X_AXES[options.x] || X_AXES.step, smoothed = options.smoothing > 0;
    var tip = function (row) { return tipOf(row, x, title || 'value', smoothed); };
    return {raw_line: tip, smoothed_line: tip};
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

  /* The x and y domains of the rows (what Vega would aggregate over every row; here one pass, no expressions). */
  function domainsOf(rows, options) {
    var x = (X_AXES[options.x] || X_AXES.step).field, smoothed = options.smoothing > 0;
    var xLow = Infinity, xHigh = -Infinity, yLow = Infinity, yHigh = -Infinity;
    rows.forEach(function (row) {
      if (!row.okX) { return; }
      var at = row[x];
      if (at < xLow) { xLow = at; }
      if (at > xHigh) { xHigh = at; }
      if (row.ok) {
        if (row.value < yLow) { yLow = row.value; }
        if (row.value > yHigh) { yHigh = row.value; }
      }
      if (smoothed && row.okSmooth && row.smooth !== null) {
        if (row.smooth < yLow) { yLow = row.smooth; }
        if (row.smooth > yHigh) { yHigh = row.smooth; }
      }
    });
    if (xLow > xHigh) { xLow = 0; xHigh = 1; }
    if (yLow > yHigh) { yLow = options.log ? 1 : 0; yHigh = options.log ? 10 : 1; }
    return {xDomain: [xLow, xHigh], yDomain: [yLow, yHigh]};
  }

  /* The Vega spec of a progress chart: one line per `line` of the rows (a faded raw line under the smoothed
     one when smoothing), the colours fixed by the legend's domain when given, and `brush`: the x range
     dragged across the chart, in x's units. Gaps (`defined`) are drawn only when some row needs one. The
     title is the signal `chartTitle`: charts of one width and options have the same spec, parsed once. */
  function progressSpec(options, legend, gaps) {
    var x = X_AXES[options.x] || X_AXES.step;
    var smoothed = options.smoothing > 0;
    var domain = legend.domain;
    function lines(name, field, faded, tooltip) {
      var update = {x: {scale: 'x', field: x.field}, y: {scale: 'y', field: field}, stroke: {scale: 'color', field: 'line'}};
      if (faded) { update.opacity = {value: 0.25}; }
      if (tooltip) { update.tooltip = {signal: 'datum'}; }  // made into its text when shown (tipsOf)
      if (gaps) { update.defined = {field: field === 'smooth' ? 'okSmooth' : 'ok'}; }
      var line = {name: name + '_line', type: 'line', from: {data: name + '_rows'}, interactive: tooltip, encode: {update: update}};
      if (x.field !== 'step') { line.sort = {field: 'x'}; }
      return {name: name, type: 'group', from: {facet: {name: name + '_rows', data: 'points', groupby: 'line'}},
              encode: {update: {width: {field: {group: 'width'}}, height: {field: {group: 'height'}}}}, marks: [line]};
    }
    var marks = [
      {name: 'brush_area', type: 'rect', clip: true, encode: {
        enter: {fill: {value: '#333'}, fillOpacity: {value: 0.125}, y: {value: 0}, y2: {signal: 'height'}},
        update: {x: {signal: 'brushX ? brushX[0] : 0'}, x2: {signal: 'brushX ? brushX[1] : 0'}}}},
      lines('raw', 'value', smoothed, !smoothed)
    ];
    if (smoothed) { marks.push(lines('smoothed', 'smooth', false, true)); }
    var color = {name: 'color', type: 'ordinal', domain: domain || {data: 'points', field: 'line', sort: true},
                 range: domain ? {scheme: domain.length > 10 ? 'tableau20' : 'category10'} : 'category'};
    return {
      $schema: 'https://vega.github.io/schema/vega/v6.json',
      background: 'white', padding: 5, width: legend.width, height: 200,
      autosize: {type: 'fit-x', contains: 'padding'}, title: {text: {signal: 'chartTitle'}, frame: 'group'}, style: 'cell',
      signals: [
        {name: 'chartTitle', value: ''},
        {name: 'xDomain', value: [0, 1]},
        {name: 'yDomain', value: [0, 1]},
        {name: 'brushX', value: null, on: [
          {events: 'pointerdown', update: '[clamp(x(), 0, width), clamp(x(), 0, width)]'},
          {events: '[pointerdown, window:pointerup] > window:pointermove', update: 'brushX ? [brushX[0], clamp(x(), 0, width)] : null'}]},
        {name: 'brush', value: null, on: [
          {events: {signal: 'brushX'}, update: 'brushX && brushX[0] !== brushX[1] ? invert("x", brushX) : null'}]}
      ],
      data: [{name: 'points'}],
      scales: [
        {name: 'x', type: x.type === 'temporal' ? 'time' : 'linear', domain: {signal: 'xDomain'}, range: 'width',
         zero: false, nice: x.type !== 'temporal'},
        {name: 'y', type: options.log ? 'log' : 'linear', domain: {signal: 'yDomain'}, range: 'height', zero: false, nice: true},
        color
      ],
      axes: [
        {scale: 'x', orient: 'bottom', grid: true, title: x.title, labelFlush: true, labelOverlap: true,
         tickCount: {signal: 'ceil(width/40)'}},
        {scale: 'y', orient: 'left', grid: true, title: {signal: 'chartTitle'}, labelOverlap: 'greedy'}
      ],
      legends: [{stroke: 'color', symbolType: 'stroke', orient: 'bottom', direction: 'horizontal', columns: legend.columns,
                 labelLimit: legend.labelLimit, symbolLimit: 0,
                 encode: {labels: {interactive: true, update: {tooltip: {field: 'label'}}}}}],
      marks: marks
    };
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
        // The job's own charts come before its system/... ones, whichever series reached the page first.
        var system = group.indexOf('system/') === 0;
        var firstSystem = system ? null : self.container.querySelector('.progress-chart[data-group^="system/"]');
        self.container.insertBefore(figure, firstSystem ? firstSystem.parentNode : null);
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
    if (!hasVega) { chart.element.textContent = 'Charts need the vendored Vega script.'; return; }
    var version = chart.version += 1;
    var rows = chart.rows = rowsOf(chart.lines || [], this.settings, group);
    var gaps = chart.gaps = rows.some(function (row) { return !row.ok || row.okSmooth === false; });
    var spec = progressSpec(this.settings, this.legend(chart), gaps);
    chart.pending = true;
    chart.element.vegaSpec = spec;
    chart.element.setAttribute('data-rendered', 'false');
    var signals = domainsOf(rows, this.settings);
    signals.chartTitle = group;
    // With the legend's entries given (the compare view), nothing but the lines depends on the rows.
    var sizeFirst = Boolean(this.options.domain);
    render(chart.element, spec, {points: rows}, signals, tipsOf(this.settings, group), sizeFirst).then(function (view) {
      if (version !== chart.version) { view.finalize(); return; }
      if (chart.view) { chart.view.finalize(); }
      chart.view = view;
      chart.pending = false;
      self.listen(group);
      self.drawn(group, rows);
    }).catch(function (error) {
      chart.pending = false;
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
    var domains = domainsOf(rows, this.settings);
    var version = chart.version;  // a drawing started meanwhile (new zoom or options) owns the chart's marks
    chart.view.signal('xDomain', domains.xDomain).signal('yDomain', domains.yDomain).data('points', rows)
      .runAsync().then(function () { if (version === chart.version) { self.drawn(group, rows); } });
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
      var range = value;  // [low, high] in x's units (dates on a time axis)
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

  window.BrevettiCharts = {Controls: Controls, ProgressCharts: ProgressCharts, render: render, CONFIG: CONFIG,
                           fetchJson: fetchJson, hasVega: hasVega, rowsOf: rowsOf, progressSpec: progressSpec,
                           domainsOf: domainsOf, refreshParts: refreshParts};
}());
