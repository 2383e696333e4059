/* The compare view: the runs' progress curves overlaid per metric (charts.js: smoothing, log scale, x axis,
   drag to zoom at full resolution), and a parallel-coordinates chart of the numeric settings that differ
   against a chosen metric. The settings diff and the metrics table are drawn by the server. */
(function () {
  'use strict';
  var root = document.getElementById('compare');
  if (!root || !window.BrevettiCharts) { return; }
  var summary = JSON.parse(document.getElementById('compare-summary').textContent);
  var dataUrl = root.getAttribute('data-url');
  var labels = summary.runs.map(function (run) { return run.label; });
  var MAX_POINTS = 2000;  // per run and series in a zoomed range: every point once the range holds fewer

  var empty = document.getElementById('progress-empty');
  var zoomForm = document.getElementById('progress-zoom');
  var zoomNote = document.getElementById('progress-zoom-note');
  var charts = new BrevettiCharts.ProgressCharts(document.getElementById('compare-charts'),
                                                 {domain: labels, label: 'Progress of ', onZoom: zoomTo});
  var controls = new BrevettiCharts.Controls(document.getElementById('chart-controls'), function (values) {
    charts.configure(values);
  });
  charts.settings = controls.values();
  var whole = null;   // the last answer for the whole runs
  var zoomed = null;  // {start, end, data} while a step range is shown

  // Run colours: the swatches in the runs table match the lines.
  function paintSwatches() {
    if (!BrevettiCharts.hasVega) { return; }
    var colours = vega.scheme(labels.length > 10 ? 'tableau20' : 'category10');
    Array.prototype.forEach.call(document.querySelectorAll('.run-swatch'), function (swatch) {
      swatch.style.backgroundColor = colours[Number(swatch.getAttribute('data-run')) % colours.length];
    });
  }
  paintSwatches();

  function draw() {
    var data = zoomed ? zoomed.data : whole;
    var groups = {};
    summary.metrics.forEach(function (metric) {
      groups[metric] = summary.runs.filter(function (run) {
        return data.series[run.id] && data.series[run.id][metric];
      }).map(function (run) {
        return {line: run.label, points: data.series[run.id][metric]};
      });
    });
    charts.show(groups, zoomed ? zoomed.start + '-' + zoomed.end : '');
  }

  function zoomTo(start, end) {
    if (!(end >= start) || (zoomed && zoomed.start === start && zoomed.end === end)) { return; }
    zoomForm.elements.start.value = String(start);
    zoomForm.elements.end.value = String(end);
    var url = dataUrl + '&start_step=' + start + '&end_step=' + end + '&max_points=' + MAX_POINTS;
    BrevettiCharts.fetchJson(url).then(function (data) {
      zoomed = {start: start, end: end, data: data};
      var exact = Object.keys(data.bucketSteps).every(function (id) {
        return Object.keys(data.bucketSteps[id]).every(function (name) { return data.bucketSteps[id][name] === 1; });
      });
      zoomNote.textContent = 'Steps ' + start + ' to ' + end + (exact ? ', every point.' : ', downsampled.');
      draw();
    }).catch(function (error) { zoomNote.textContent = 'Could not zoom: ' + error.message; });
  }

  zoomForm.addEventListener('submit', function (event) {
    event.preventDefault();
    zoomTo(parseInt(zoomForm.elements.start.value, 10), parseInt(zoomForm.elements.end.value, 10));
  });
  zoomForm.querySelector('[data-action="reset"]').addEventListener('click', function () {
    zoomed = null;
    zoomNote.textContent = '';
    zoomForm.elements.start.value = '';
    zoomForm.elements.end.value = '';
    draw();
  });

  function showCharts() {
    if (!summary.metrics.length) { return; }
    empty.hidden = true;
    zoomForm.hidden = false;
    controls.form.hidden = false;
    draw();
  }

  function mark(name) {
    if (window.performance && performance.mark) { performance.mark(name); }
  }

  if (summary.metrics.length) {
    BrevettiCharts.fetchJson(dataUrl, {preloaded: true}).then(function (data) {
      mark('compare: points received');
      whole = data;
      showCharts();
      mark('compare: charts requested');
      follow();
    }).catch(function (error) {
      if (error.message !== 'logged out') { empty.textContent = 'The progress metrics could not be read: ' + error.message; }
    });
  } else {
    whole = {series: {}, cursors: {}};
    follow();
  }

  // Runs still running: their new points, status and end ----------------------------------------------------
  // Every POLL_MS each running run's live.json is asked for the points stored after its cursor (the job
  // page's poll); a run that ended brings the server's runs and metrics tables in (its output.json).
  // Polling stops once every run has ended.
  var POLL_MS = 2000;
  var MAX_ROWS = 4 * 500;  // rows per series the page holds before it asks for the whole runs downsampled again
  var live = (root.getAttribute('data-live') || '').split(',').filter(Boolean);
  var linkOf = {};
  summary.runs.forEach(function (run) { linkOf[run.id] = run.link; });

  function follow() {
    if (live.length) { window.setTimeout(poll, POLL_MS); }
  }

  function merge(id, data, fresh) {
    var own = whole.series[id] = fresh ? {} : (whole.series[id] || {});
    var refetch = false;
    Object.keys(data.series).forEach(function (name) {
      own[name] = (own[name] || []).concat(data.series[name]);
      if (own[name].length > MAX_ROWS) { refetch = true; }
      if (summary.metrics.indexOf(name) < 0) { summary.metrics.push(name); summary.metrics.sort(); }
    });
    if (data.cursor !== null) { whole.cursors[id] = data.cursor; }
    return refetch;
  }

  function showRun(id, data) {
    var row = document.querySelector('#compare-runs tr[data-run-id="' + id + '"]');
    if (!row) { return; }
    var badge = row.querySelector('.run-status .status');
    if (badge && badge.textContent !== data.status) {
      badge.textContent = data.status;
      badge.className = 'status status-' + data.status;
    }
    var completed = row.querySelector('.run-completed');
    if (completed && data.completed && !completed.querySelector('time')) {
      var time = document.createElement('time');
      time.setAttribute('datetime', data.completed);
      time.textContent = data.completed.replace('T', ' ').replace('Z', ' UTC');
      completed.textContent = '';
      completed.appendChild(time);
      if (window.BrevettiTime) { BrevettiTime.localise(time); }
    }
  }

  function refreshTables() {
    // The server draws the tables of ended runs (status, times, outputs): swap in its parts marked data-refresh.
    return BrevettiCharts.refreshParts(window.location.href)
      .then(function () {
        paintSwatches();
      })
      .catch(function () { /* the runs table keeps what the polls showed */ });
  }

  function poll() {
    var asked = live.slice();
    Promise.all(asked.map(function (id) {
      var cursor = whole.cursors[id];
      var url = linkOf[id] + '/live.json?max_points=500' + (cursor === null || cursor === undefined ? '' : '&after=' + cursor);
      return BrevettiCharts.fetchJson(url).then(function (data) { return {id: id, data: data, fresh: cursor === null || cursor === undefined}; });
    })).then(function (answers) {
      var grew = false, ended = false, refetch = false;
      answers.forEach(function (answer) {
        if (Object.keys(answer.data.series).length) { grew = true; }
        refetch = merge(answer.id, answer.data, answer.fresh) || refetch;
        showRun(answer.id, answer.data);
        if (answer.data.terminal) { ended = true; live.splice(live.indexOf(answer.id), 1); }
      });
      root.setAttribute('data-polls', String(Number(root.getAttribute('data-polls') || 0) + 1));
      var next = refetch ? BrevettiCharts.fetchJson(dataUrl).then(function (data) { whole = data; }) : Promise.resolve();
      return next.then(function () {
        if (grew || refetch) { showCharts(); }
        if (ended) { return refreshTables(); }
      });
    }).then(function () {
      if (live.length) { window.setTimeout(poll, POLL_MS); } else { root.setAttribute('data-live', ''); }
    }).catch(function (error) {
      if (error.message !== 'logged out') { window.setTimeout(poll, 3 * POLL_MS); }
    });
  }

  // Parallel coordinates ------------------------------------------------------------------------------------
  var parallelForm = document.getElementById('parallel-form');
  var parallelEmpty = document.getElementById('parallel-empty');
  var parallelElement = document.getElementById('parallel-chart');
  var parallelResult = null;

  function isNumber(value) { return typeof value === 'number' && isFinite(value); }

  var metricChoices = [];
  summary.outputs.forEach(function (row) {
    if (row.values.some(isNumber)) { metricChoices.push({key: 'output:' + row.name, title: row.name, values: row.values}); }
  });
  summary.lastValues.forEach(function (row) {
    if (row.values.some(isNumber)) { metricChoices.push({key: 'last:' + row.name, title: row.name + ' (last)', values: row.values}); }
  });
  var axes = summary.settings.filter(function (row) {
    var present = row.values.filter(isNumber);
    return row.numeric && present.length >= 2;
  });

  function parallelSpec(metric) {
    var rows = [], ticks = [];
    var columns = axes.map(function (row) { return {title: row.label, values: row.values}; });
    columns.push({title: metric.title, values: metric.values});
    columns.forEach(function (column) {
      var present = column.values.filter(isNumber);
      var low = Math.min.apply(null, present), high = Math.max.apply(null, present);
      ticks.push({axis: column.title, y: 1, text: String(+high.toPrecision(6))});
      ticks.push({axis: column.title, y: 0, text: String(+low.toPrecision(6))});
      column.values.forEach(function (value, index) {
        if (!isNumber(value)) { return; }
        rows.push({run: labels[index], axis: column.title, value: value,
                   norm: high === low ? 0.5 : (value - low) / (high - low),
                   metric: isNumber(metric.values[index]) ? metric.values[index] : null});
      });
    });
    var order = columns.map(function (column) { return column.title; });
    var x = {field: 'axis', type: 'nominal', sort: order, title: null, scale: {type: 'point', padding: 0.4},
             axis: {orient: 'bottom', labelAngle: 0, labelLimit: 160, domain: false, ticks: false, labelPadding: 8}};
    var y = {field: 'y', type: 'quantitative', axis: null, scale: {domain: [0, 1]}};
    return {
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
      width: 'container', height: 240, autosize: {type: 'fit-x', contains: 'padding'},
      config: {view: {stroke: null}},
      layer: [
        {data: {values: order.map(function (axis) { return {axis: axis}; })}, mark: {type: 'rule', color: '#999'},
         encoding: {x: x, y: {value: 0}, y2: {value: 240}}},
        {data: {values: rows}, mark: {type: 'line', strokeWidth: 2, tooltip: true},
         encoding: {x: x, y: {field: 'norm', type: 'quantitative', axis: null, scale: {domain: [0, 1]}},
                    detail: {field: 'run', type: 'nominal'},
                    color: {field: 'metric', type: 'quantitative', title: metric.title, scale: {scheme: 'viridis'},
                            legend: {orient: 'bottom', direction: 'horizontal', gradientLength: 160}},
                    tooltip: [{field: 'run', title: 'run'}, {field: 'axis', title: 'setting'},
                              {field: 'value', title: 'value'}, {field: 'metric', title: metric.title}]}},
        {data: {values: ticks}, transform: [{filter: 'datum.y === 1'}],
         mark: {type: 'text', dx: 5, dy: 2, align: 'left', baseline: 'top', fontSize: 10, color: '#555'},
         encoding: {x: x, y: y, text: {field: 'text'}}},
        {data: {values: ticks}, transform: [{filter: 'datum.y === 0'}],
         mark: {type: 'text', dx: 5, dy: -2, align: 'left', baseline: 'bottom', fontSize: 10, color: '#555'},
         encoding: {x: x, y: y, text: {field: 'text'}}}
      ]
    };
  }

  function drawParallel(key) {
    var metric = metricChoices.filter(function (choice) { return choice.key === key; })[0];
    if (!metric || !BrevettiCharts.hasVega) { return; }
    var spec = parallelSpec(metric);
    parallelElement.vlSpec = spec;
    parallelElement.setAttribute('data-rendered', 'false');
    vegaEmbed(parallelElement, spec, BrevettiCharts.embedOptions()).then(function (result) {
      if (parallelResult) { parallelResult.finalize(); }
      parallelResult = result;
      parallelElement.setAttribute('data-axes', String(axes.length + 1));
      parallelElement.setAttribute('data-metric', metric.key);
      parallelElement.setAttribute('data-rendered', 'true');
    }).catch(function (error) {
      parallelElement.setAttribute('data-rendered', 'error');
      parallelElement.textContent = 'The chart could not be drawn: ' + error.message;
    });
  }

  if (!axes.length || !metricChoices.length) {
    parallelEmpty.hidden = false;
    parallelEmpty.textContent = !axes.length ? 'No numeric setting differs between these runs.'
      : 'These runs have no numeric metric to set the settings against.';
  } else {
    var select = parallelForm.elements.metric;
    metricChoices.forEach(function (choice) {
      var option = document.createElement('option');
      option.value = choice.key;
      option.textContent = choice.title;
      select.appendChild(option);
    });
    parallelForm.hidden = false;
    select.addEventListener('change', function () { drawParallel(select.value); });
    drawParallel(select.value);
  }
}());
